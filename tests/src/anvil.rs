//! A real local Polygon stand-in: `anvil` (npm `@foundry-rs/anvil-linux-amd64`) on a free
//! loopback port with chain id 137, the test ERC-20 (`tests/contracts/TestTokens.sol`) at
//! the pUSD and USDC.e addresses and the test ERC-1155 at the Conditional Tokens address.
//! Tests that need it fail loudly when anvil is missing: `.ci/run` installs it.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use alloy::primitives::{Address, U256, address};
use alloy::sol;
use alloy::sol_types::SolCall;
use serde_json::{Value, json};

sol! {
    /// What the tests do to the test tokens.
    interface ITestTokens {
        function mint(address to, uint256 value) external;
        function transfer(address to, uint256 value) external returns (bool);
        function approve(address spender, uint256 value) external returns (bool);
        function mint(address to, uint256 id, uint256 value) external;
        function setApprovalForAll(address operator, bool approved) external;
    }
}

/// Anvil's first account (unlocked): pays for minting.
pub const MINTER: Address = address!("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
/// Anvil's second account (unlocked): the funder in tests.
pub const FUNDER: Address = address!("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");

/// A running anvil, stopped when dropped. Its JSON-RPC calls are plain blocking HTTP on
/// a loopback socket, so it can be driven from async tests and sync ones alike.
pub struct Anvil {
    child: Option<Child>,
    port: u16,
}

fn binary() -> PathBuf {
    if let Ok(p) = std::env::var("ANVIL") {
        return PathBuf::from(p);
    }
    let local = crate::root().join("target/npm/node_modules/.bin/anvil");
    if local.exists() {
        return local;
    }
    PathBuf::from("anvil")
}

fn code(name: &str) -> String {
    let path = crate::root()
        .join("tests/contracts")
        .join(format!("{name}.bin-runtime"));
    let hex = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    format!("0x{}", hex.trim())
}

impl Anvil {
    /// Start anvil with the test tokens in place; panics (the test fails) when anvil is not
    /// installed or does not come up.
    pub fn start() -> Anvil {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let bin = binary();
        let child = Command::new(&bin)
            .args(["--port", &port.to_string(), "--chain-id", "137", "--silent"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start anvil ({}): {e}. Install it: npm install --prefix target/npm @foundry-rs/anvil-linux-amd64 (or run .ci/run), or set $ANVIL",
                    bin.display()
                )
            });
        let anvil = Anvil {
            child: Some(child),
            port,
        };
        for _ in 0..100 {
            if anvil.try_rpc("eth_chainId", json!([])).is_ok() {
                anvil.place_tokens();
                return anvil;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("anvil did not answer on {}", anvil.url());
    }

    /// Its JSON-RPC URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn try_rpc(&self, method: &str, params: Value) -> Result<Value, String> {
        use std::io::{Read, Write};
        let body =
            json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
        let mut socket =
            std::net::TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| e.to_string())?;
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        write!(
            socket,
            "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .map_err(|e| e.to_string())?;
        let mut answer = String::new();
        socket
            .read_to_string(&mut answer)
            .map_err(|e| e.to_string())?;
        let json = answer
            .split_once("\r\n\r\n")
            .map(|(_, b)| b)
            .ok_or_else(|| format!("not an HTTP answer: {answer}"))?;
        let v: Value = serde_json::from_str(json).map_err(|e| format!("{e}: {json}"))?;
        match v.get("error") {
            Some(e) => Err(e.to_string()),
            None => Ok(v["result"].clone()),
        }
    }

    /// A JSON-RPC call that must succeed.
    pub fn rpc(&self, method: &str, params: Value) -> Value {
        self.try_rpc(method, params)
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    fn place_tokens(&self) {
        let erc20 = code("TestERC20");
        for token in [
            polybox::wallet::addresses::PUSD,
            polybox::wallet::addresses::USDC_E,
        ] {
            self.rpc("anvil_setCode", json!([token, erc20]));
        }
        self.rpc(
            "anvil_setCode",
            json!([polybox::wallet::addresses::CTF, code("TestERC1155")]),
        );
    }

    /// Send a transaction from an unlocked account and wait for it to be mined.
    pub fn send(&self, from: Address, to: Address, data: Vec<u8>) {
        let data = format!("0x{}", alloy::hex::encode(data));
        let hash = self.rpc(
            "eth_sendTransaction",
            json!([{"from": from, "to": to, "data": data}]),
        );
        for _ in 0..50 {
            let receipt = self.rpc("eth_getTransactionReceipt", json!([hash]));
            if !receipt.is_null() {
                assert_eq!(receipt["status"], "0x1", "transaction failed: {receipt}");
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("transaction {hash} was not mined");
    }

    /// Mint `micros` of an ERC-20 test token to `to`.
    pub fn mint(&self, token: Address, to: Address, micros: u64) {
        let call = ITestTokens::mint_0Call {
            to,
            value: U256::from(micros),
        };
        self.send(MINTER, token, call.abi_encode());
    }

    /// Mint `micros` shares of outcome token `id` to `to`.
    pub fn mint_shares(&self, to: Address, id: U256, micros: u64) {
        let call = ITestTokens::mint_1Call {
            to,
            id,
            value: U256::from(micros),
        };
        self.send(MINTER, polybox::wallet::addresses::CTF, call.abi_encode());
    }

    /// `owner` approves `spender` for `micros` of `token`.
    pub fn approve(&self, owner: Address, token: Address, spender: Address, micros: u64) {
        let call = ITestTokens::approveCall {
            spender,
            value: U256::from(micros),
        };
        self.send(owner, token, call.abi_encode());
    }

    /// `owner` approves `operator` for all its outcome tokens.
    pub fn approve_shares(&self, owner: Address, operator: Address) {
        let call = ITestTokens::setApprovalForAllCall {
            operator,
            approved: true,
        };
        self.send(owner, polybox::wallet::addresses::CTF, call.abi_encode());
    }

    /// `from` sends `micros` of `token` to `to`.
    pub fn transfer(&self, token: Address, from: Address, to: Address, micros: u64) {
        let call = ITestTokens::transferCall {
            to,
            value: U256::from(micros),
        };
        self.send(from, token, call.abi_encode());
    }

    /// Stop the node (it then refuses connections).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        self.stop();
    }
}
