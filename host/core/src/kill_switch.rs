//! The kill switch: a file whose presence blocks every new order at once. Cancels are
//! always allowed, so positions can still be closed and orders pulled.

use std::path::{Path, PathBuf};

/// First line of the file when `polybox kill --cancel-all` engaged it.
const CANCEL_ALL: &str = "cancel-all";

/// The file-backed kill switch. Checked before every order.
#[derive(Debug, Clone)]
pub struct KillSwitch {
    path: PathBuf,
}

impl KillSwitch {
    /// A kill switch engaged by the existence of `path` (default `.kill_switch`).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        KillSwitch { path: path.into() }
    }

    /// The file that engages it.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True when the file exists (or its existence cannot be determined: fail closed).
    pub fn is_engaged(&self) -> bool {
        !matches!(self.path.try_exists(), Ok(false))
    }

    /// Engage: create the file with a reason.
    pub fn engage(&self, reason: &str) -> std::io::Result<()> {
        std::fs::write(&self.path, format!("{reason}\n"))
    }

    /// Engage and ask the running host to cancel every open order as well.
    pub fn engage_cancel_all(&self, reason: &str) -> std::io::Result<()> {
        std::fs::write(&self.path, format!("{CANCEL_ALL}\n{reason}\n"))
    }

    /// Whether the engaged switch asks for every open order to be cancelled.
    pub fn wants_cancel_all(&self) -> bool {
        std::fs::read_to_string(&self.path).is_ok_and(|t| t.lines().next() == Some(CANCEL_ALL))
    }

    /// Why it was engaged (the file's text without the cancel-all marker), when it is.
    pub fn reason(&self) -> Option<String> {
        let text = std::fs::read_to_string(&self.path).ok()?;
        let text = text
            .strip_prefix(CANCEL_ALL)
            .filter(|rest| rest.starts_with('\n') || rest.is_empty())
            .unwrap_or(&text);
        Some(text.trim().to_owned())
    }

    /// Release: remove the file (a missing file is already released).
    pub fn release(&self) -> std::io::Result<()> {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_presence_engages() {
        let dir = std::env::temp_dir().join(format!("polybox-ks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ks = KillSwitch::new(dir.join(".kill_switch"));
        assert!(!ks.is_engaged());
        ks.engage("test").unwrap();
        assert!(ks.is_engaged());
        assert!(!ks.wants_cancel_all());
        assert_eq!(ks.reason().as_deref(), Some("test"));
        ks.engage_cancel_all("cancel-allowed drill").unwrap();
        assert!(ks.wants_cancel_all());
        assert_eq!(ks.reason().as_deref(), Some("cancel-allowed drill"));
        ks.release().unwrap();
        assert!(!ks.is_engaged());
        ks.release().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
