//! Where the money is on Polygon: the collateral, the outcome tokens and the exchange
//! contracts the host trades through (`polymarket-clob-v2.md` §8). Kept here and nowhere
//! else; each can be overridden in `[wallet]` (for a fork or a test chain).

use alloy::primitives::{Address, address};

/// Polygon PoS.
pub const POLYGON_CHAIN_ID: u64 = 137;
/// pUSD: the CLOB v2 collateral (ERC-20, 6 decimals).
pub const PUSD: Address = address!("0xC011a7E12a19f7B1f670d46F03B03f3342E82DFB");
/// USDC.e: the bridged USDC that is wrapped into pUSD (6 decimals).
pub const USDC_E: Address = address!("0x2791Bca1f2de4661ED88A30C99A7a9449Aa84174");
/// Conditional Tokens: the ERC-1155 outcome tokens of CLOB v2 markets.
pub const CTF: Address = address!("0x4D97DCd97eC945f40cF65F87097ACe5EA0476045");
/// CTFExchangeV2: settles orders of ordinary markets.
pub const EXCHANGE_V2: Address = address!("0xE111180000d2663C0091e4f400237545B87B996B");
/// NegRiskCtfExchangeV2: settles orders of neg-risk markets.
pub const NEG_RISK_EXCHANGE_V2: Address = address!("0xe2222d279d744050d28e00520010520000310F59");
