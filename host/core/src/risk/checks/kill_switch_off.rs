use crate::risk::{Check, GateContext, RejectReason, Rejection};

/// Refuses every new order while the kill-switch file exists.
#[derive(Debug)]
pub struct KillSwitchOff;

impl Check for KillSwitchOff {
    fn name(&self) -> &'static str {
        "kill_switch"
    }
    fn check(&self, ctx: &GateContext<'_>) -> Result<(), Rejection> {
        if ctx.kill_switch_engaged {
            return Err(Rejection::new(
                RejectReason::KillSwitch,
                format!(
                    "kill switch engaged ({} exists): no new orders; remove it or run `polybox resume`",
                    ctx.kill_switch.path().display()
                ),
            ));
        }
        Ok(())
    }
}
