//! The wallet on chain: collateral (pUSD, and USDC.e, its on-ramp input), the exchange
//! allowances a BUY needs, the outcome-token approvals a SELL needs, and outcome-token
//! balances, read from a Polygon node over JSON-RPC with alloy's ABI types. What is
//! missing to trade is said in words. Reads are cached for 30 s (`BalanceCache`).

pub mod addresses;
pub mod cache;
pub mod rpc;
pub mod watch;

use alloy::primitives::{Address, Bytes, U256};
use alloy::sol;
use alloy::sol_types::SolCall;
use polybox_core::money::Size;
use serde::{Deserialize, Serialize};

use self::rpc::{Rpc, word};

sol! {
    /// ERC-20 reads.
    interface IErc20 {
        function balanceOf(address owner) external view returns (uint256);
        function allowance(address owner, address spender) external view returns (uint256);
    }
    /// ERC-1155 reads.
    interface IErc1155 {
        function balanceOf(address account, uint256 id) external view returns (uint256);
        function isApprovedForAll(address account, address operator) external view returns (bool);
    }
}

/// `[wallet]`: the node to read and the contracts to read (empty: Polygon's, from
/// [`addresses`]).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WalletConfig {
    /// JSON-RPC URL of a Polygon node (else `$POLYGON_RPC_URL`, else Alchemy's from
    /// `$ALCHEMY_API_KEY`).
    pub rpc_url: String,
    /// The chain the node must serve.
    pub chain_id: u64,
    /// pUSD.
    pub pusd: String,
    /// USDC.e.
    pub usdc_e: String,
    /// Conditional Tokens.
    pub ctf: String,
    /// CTFExchangeV2.
    pub exchange: String,
    /// NegRiskCtfExchangeV2.
    pub neg_risk_exchange: String,
    /// Seconds a balance read is trusted.
    pub cache_s: u64,
    /// Seconds between checks of the outcome tokens on chain against the positions.
    pub cross_check_s: u64,
    /// Shares by which chain and tracker may differ unremarked.
    pub dust_shares: String,
    /// Shares of difference, seen twice in a row, that pause new BUYs.
    pub pause_shares: String,
}

impl Default for WalletConfig {
    fn default() -> Self {
        WalletConfig {
            rpc_url: String::new(),
            chain_id: addresses::POLYGON_CHAIN_ID,
            pusd: String::new(),
            usdc_e: String::new(),
            ctf: String::new(),
            exchange: String::new(),
            neg_risk_exchange: String::new(),
            cache_s: 30,
            cross_check_s: 300,
            dust_shares: "0.01".to_owned(),
            pause_shares: "1".to_owned(),
        }
    }
}

/// The contracts, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Contracts {
    /// pUSD.
    pub pusd: Address,
    /// USDC.e.
    pub usdc_e: Address,
    /// Conditional Tokens.
    pub ctf: Address,
    /// CTFExchangeV2.
    pub exchange: Address,
    /// NegRiskCtfExchangeV2.
    pub neg_risk_exchange: Address,
}

impl WalletConfig {
    /// The RPC URL: config, else `$POLYGON_RPC_URL`, else Alchemy's with `$ALCHEMY_API_KEY`.
    pub fn rpc_url(&self) -> Result<String, String> {
        if !self.rpc_url.is_empty() {
            return Ok(self.rpc_url.clone());
        }
        if let Ok(url) = std::env::var("POLYGON_RPC_URL")
            && !url.is_empty()
        {
            return Ok(url);
        }
        match std::env::var("ALCHEMY_API_KEY") {
            Ok(key) if !key.is_empty() => {
                Ok(format!("https://polygon-mainnet.g.alchemy.com/v2/{key}"))
            }
            _ => Err(
                "no Polygon node: set wallet.rpc_url, $POLYGON_RPC_URL or $ALCHEMY_API_KEY"
                    .to_owned(),
            ),
        }
    }

    /// A reader of the configured node and contracts, under `policy`.
    pub fn chain(&self, policy: crate::execution::retry::RetryPolicy) -> Result<Chain, String> {
        let rpc = Rpc::new(&self.rpc_url()?, policy)?;
        Ok(Chain::new(rpc, self.contracts()?, self.chain_id))
    }

    /// The dust and pause thresholds of the cross-check, in shares.
    pub fn thresholds(&self) -> Result<(Size, Size), String> {
        let parse = |key: &str, text: &str| {
            Size::parse(text).map_err(|e| format!("wallet.{key} = {text:?}: {e}"))
        };
        Ok((
            parse("dust_shares", &self.dust_shares)?,
            parse("pause_shares", &self.pause_shares)?,
        ))
    }

    /// The contracts, with overrides.
    pub fn contracts(&self) -> Result<Contracts, String> {
        let pick = |key: &str, text: &str, default: Address| -> Result<Address, String> {
            if text.is_empty() {
                Ok(default)
            } else {
                text.parse()
                    .map_err(|_| format!("wallet.{key} = {text:?} is not an address"))
            }
        };
        Ok(Contracts {
            pusd: pick("pusd", &self.pusd, addresses::PUSD)?,
            usdc_e: pick("usdc_e", &self.usdc_e, addresses::USDC_E)?,
            ctf: pick("ctf", &self.ctf, addresses::CTF)?,
            exchange: pick("exchange", &self.exchange, addresses::EXCHANGE_V2)?,
            neg_risk_exchange: pick(
                "neg_risk_exchange",
                &self.neg_risk_exchange,
                addresses::NEG_RISK_EXCHANGE_V2,
            )?,
        })
    }
}

/// The funder whose wallet trades: `$POLYMARKET_FUNDER`, else the address of
/// `$POLYMARKET_PRIVATE_KEY`.
pub fn funder_from_env() -> Result<Address, String> {
    match std::env::var("POLYMARKET_FUNDER") {
        Ok(text) if !text.is_empty() => text
            .parse()
            .map_err(|_| format!("$POLYMARKET_FUNDER {text} is not an address")),
        _ => crate::execution::exchange::Secrets::from_env()
            .and_then(|s| s.signer())
            .map(|s| s.address()),
    }
}

/// What an address holds and has approved, in token units (6 decimals).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holdings {
    /// The funder.
    pub address: Address,
    /// The chain read.
    pub chain_id: u64,
    /// pUSD.
    pub pusd: U256,
    /// USDC.e.
    pub usdc_e: U256,
    /// pUSD allowance to each exchange contract: (name, contract, amount).
    pub allowances: Vec<(&'static str, Address, U256)>,
    /// Conditional-token approval of each exchange contract: (name, contract, approved).
    pub approvals: Vec<(&'static str, Address, bool)>,
    /// Outcome-token balances asked for: (token id, shares).
    pub outcomes: Vec<(U256, U256)>,
}

/// `12345678` micro-units as `"12.345678"`.
pub fn units(v: U256) -> String {
    let million = U256::from(1_000_000u64);
    format!("{}.{:06}", v / million, (v % million).to::<u64>())
}

impl Holdings {
    /// What stops trading, in words (empty: nothing).
    pub fn missing(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.pusd.is_zero() {
            out.push(if self.usdc_e.is_zero() {
                "no pUSD (and no USDC.e to wrap): fund the wallet before buying".to_owned()
            } else {
                format!(
                    "no pUSD, but {} USDC.e: wrap it into pUSD (CollateralOnramp) before buying",
                    units(self.usdc_e)
                )
            });
        }
        for (name, _, amount) in &self.allowances {
            if amount.is_zero() {
                out.push(format!(
                    "pUSD allowance to the {name} is 0: approve it before buying on these markets"
                ));
            }
        }
        for (name, _, approved) in &self.approvals {
            if !approved {
                out.push(format!(
                    "the {name} is not approved for your outcome tokens (setApprovalForAll): approve it before selling on these markets"
                ));
            }
        }
        out
    }

    /// As JSON: amounts as decimal strings of the token's units.
    pub fn to_json(&self) -> serde_json::Value {
        let allowances: serde_json::Map<String, serde_json::Value> = self
            .allowances
            .iter()
            .map(|(n, a, v)| {
                (
                    (*n).to_owned(),
                    serde_json::json!({"contract": a.to_string(), "pusd": units(*v)}),
                )
            })
            .collect();
        let approvals: serde_json::Map<String, serde_json::Value> = self
            .approvals
            .iter()
            .map(|(n, a, v)| {
                (
                    (*n).to_owned(),
                    serde_json::json!({"contract": a.to_string(), "approved": v}),
                )
            })
            .collect();
        let outcomes: serde_json::Map<String, serde_json::Value> = self
            .outcomes
            .iter()
            .map(|(t, v)| (t.to_string(), serde_json::json!(units(*v))))
            .collect();
        serde_json::json!({
            "address": self.address.to_string(),
            "chain_id": self.chain_id,
            "pusd": units(self.pusd),
            "usdc_e": units(self.usdc_e),
            "allowances": allowances,
            "ctf_approvals": approvals,
            "outcome_tokens": outcomes,
            "missing": self.missing(),
        })
    }
}

/// Reads of one chain.
#[derive(Debug, Clone)]
pub struct Chain {
    rpc: Rpc,
    contracts: Contracts,
    chain_id: u64,
}

impl Chain {
    /// A reader of `rpc` that must serve `chain_id`.
    pub fn new(rpc: Rpc, contracts: Contracts, chain_id: u64) -> Chain {
        Chain {
            rpc,
            contracts,
            chain_id,
        }
    }

    /// The node serves the configured chain, or why not.
    pub async fn check_chain(&self) -> Result<u64, String> {
        let id = self.rpc.chain_id().await?;
        if id != self.chain_id {
            return Err(format!(
                "the node at {} serves chain {id}, not {}: point wallet.rpc_url at a Polygon node (or set wallet.chain_id)",
                self.rpc.url(),
                self.chain_id
            ));
        }
        Ok(id)
    }

    async fn read(&self, to: Address, data: Vec<u8>) -> Result<U256, String> {
        let out = self.rpc.call(to, Bytes::from(data)).await?;
        word(&out)
            .ok_or_else(|| format!("{to} answered {out}: is it the right contract on this chain?"))
    }

    /// pUSD of `who` (micro-units).
    pub async fn collateral(&self, who: Address) -> Result<U256, String> {
        self.check_chain().await?;
        self.read(
            self.contracts.pusd,
            IErc20::balanceOfCall { owner: who }.abi_encode(),
        )
        .await
    }

    /// `who`'s shares of outcome token `id` (micro-shares).
    pub async fn shares(&self, who: Address, id: U256) -> Result<U256, String> {
        self.check_chain().await?;
        self.read(
            self.contracts.ctf,
            IErc1155::balanceOfCall { account: who, id }.abi_encode(),
        )
        .await
    }

    /// Everything `who` holds and has approved, with the balances of `tokens`.
    pub async fn holdings(&self, who: Address, tokens: &[U256]) -> Result<Holdings, String> {
        let chain_id = self.check_chain().await?;
        let c = self.contracts;
        let erc20 =
            |token: Address| self.read(token, IErc20::balanceOfCall { owner: who }.abi_encode());
        let exchanges = [
            ("exchange", c.exchange),
            ("neg-risk exchange", c.neg_risk_exchange),
        ];
        let mut allowances = Vec::new();
        let mut approvals = Vec::new();
        for (name, spender) in exchanges {
            let a = self
                .read(
                    c.pusd,
                    IErc20::allowanceCall {
                        owner: who,
                        spender,
                    }
                    .abi_encode(),
                )
                .await?;
            allowances.push((name, spender, a));
            let ok = self
                .read(
                    c.ctf,
                    IErc1155::isApprovedForAllCall {
                        account: who,
                        operator: spender,
                    }
                    .abi_encode(),
                )
                .await?;
            approvals.push((name, spender, !ok.is_zero()));
        }
        let mut outcomes = Vec::new();
        for id in tokens {
            let v = self
                .read(
                    c.ctf,
                    IErc1155::balanceOfCall {
                        account: who,
                        id: *id,
                    }
                    .abi_encode(),
                )
                .await?;
            outcomes.push((*id, v));
        }
        Ok(Holdings {
            address: who,
            chain_id,
            pusd: erc20(c.pusd).await?,
            usdc_e: erc20(c.usdc_e).await?,
            allowances,
            approvals,
            outcomes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_decimal_strings_of_six_decimals() {
        assert_eq!(units(U256::from(12_345_678u64)), "12.345678");
        assert_eq!(units(U256::from(5u64)), "0.000005");
        assert_eq!(units(U256::ZERO), "0.000000");
    }

    #[test]
    fn what_is_missing_is_said_in_words() {
        let h = Holdings {
            address: Address::ZERO,
            chain_id: 137,
            pusd: U256::ZERO,
            usdc_e: U256::from(2_000_000u64),
            allowances: vec![
                ("exchange", addresses::EXCHANGE_V2, U256::from(1u64)),
                (
                    "neg-risk exchange",
                    addresses::NEG_RISK_EXCHANGE_V2,
                    U256::ZERO,
                ),
            ],
            approvals: vec![("exchange", addresses::EXCHANGE_V2, false)],
            outcomes: Vec::new(),
        };
        let m = h.missing();
        assert_eq!(m.len(), 3, "{m:?}");
        assert!(m[0].contains("2.000000 USDC.e: wrap it"));
        assert!(m[1].contains("allowance to the neg-risk exchange is 0"));
        assert!(m[2].contains("setApprovalForAll"));
    }

    #[test]
    fn overrides_must_be_addresses() {
        let c = WalletConfig {
            pusd: "0x12".to_owned(),
            ..WalletConfig::default()
        };
        assert!(c.contracts().unwrap_err().contains("wallet.pusd"));
        assert_eq!(
            WalletConfig::default().contracts().unwrap().ctf,
            addresses::CTF
        );
    }
}
