//! The exchange's side of signing, written independently of the client: EIP-712 digests of
//! V2 orders and of the L1 `ClobAuth` message, and signer recovery.

use alloy::primitives::{Address, B256, Signature, U256, address};
use alloy::sol;
use alloy::sol_types::{Eip712Domain, SolStruct, eip712_domain};

sol! {
    /// The V2 order as the CTF exchange signs it (field order is the type hash).
    struct Order {
        uint256 salt;
        address maker;
        address signer;
        uint256 tokenId;
        uint256 makerAmount;
        uint256 takerAmount;
        uint8 side;
        uint8 signatureType;
        uint256 timestamp;
        bytes32 metadata;
        bytes32 builder;
    }

    /// The L1 message that proves control of a wallet.
    struct ClobAuth {
        address address;
        string timestamp;
        uint256 nonce;
        string message;
    }
}

/// The CTF exchange V2 on Polygon.
pub const EXCHANGE_V2: Address = address!("0xE111180000d2663C0091e4f400237545B87B996B");
/// The neg-risk CTF exchange V2 on Polygon.
pub const NEG_RISK_EXCHANGE_V2: Address = address!("0xe2222d279d744050d28e00520010520000310F59");
/// The text every L1 message carries.
pub const CLOB_AUTH_MESSAGE: &str = "This message attests that I control the given wallet";

/// The order domain: version "2", chain 137, the exchange the market trades on.
pub fn order_domain(neg_risk: bool) -> Eip712Domain {
    eip712_domain! {
        name: "Polymarket CTF Exchange",
        version: "2",
        chain_id: 137,
        verifying_contract: if neg_risk { NEG_RISK_EXCHANGE_V2 } else { EXCHANGE_V2 },
    }
}

/// The EIP-712 digest of an order: the exchange's order id.
pub fn order_digest(order: &Order, neg_risk: bool) -> B256 {
    order.eip712_signing_hash(&order_domain(neg_risk))
}

/// The address that signed `digest`, from a 65-byte `0x` hex signature (v = 27/28).
pub fn recover(digest: B256, signature_hex: &str) -> Option<Address> {
    let bytes = alloy::hex::decode(signature_hex).ok()?;
    let sig = Signature::try_from(bytes.as_slice()).ok()?;
    sig.recover_address_from_prehash(&digest).ok()
}

/// The signer of an L1 header set, if the signature is good.
pub fn recover_clob_auth(
    address: Address,
    timestamp: &str,
    nonce: u64,
    sig: &str,
) -> Option<Address> {
    let auth = ClobAuth {
        address,
        timestamp: timestamp.to_owned(),
        nonce: U256::from(nonce),
        message: CLOB_AUTH_MESSAGE.to_owned(),
    };
    let domain = eip712_domain! {
        name: "ClobAuthDomain",
        version: "1",
        chain_id: 137,
    };
    recover(auth.eip712_signing_hash(&domain), sig)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_zero_order_digest_matches_the_client_s_vector() {
        let zero = Order {
            salt: U256::ZERO,
            maker: Address::ZERO,
            signer: Address::ZERO,
            tokenId: U256::ZERO,
            makerAmount: U256::ZERO,
            takerAmount: U256::ZERO,
            side: 0,
            signatureType: 0,
            timestamp: U256::ZERO,
            metadata: B256::ZERO,
            builder: B256::ZERO,
        };
        assert_eq!(
            order_digest(&zero, false).to_string(),
            "0xd07306d5c36c7023456b3218dafb72d322ca92d67353d6e10be3be3c991ca2e5"
        );
        let sig = "0x8a6edfe94a2169c3d05673521b53b7aee2205288f1363f1c9e24716317eebe6a17ca4bc397b85a5f39be21f32d0d8b38e0fd6de6af091dc0f4ba1f667d1883981c";
        assert_eq!(
            recover(order_digest(&zero, false), sig),
            Some(address!("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"))
        );
    }

    #[test]
    fn the_clob_auth_vector_recovers_the_anvil_key() {
        let sig = "0xfdfb5abf512e439ea61c8595c18e527e718bf16010acf57cef51d09e15893098275d3c6f73038f36ec0cd0ce55436fca14dc64b11611f4dce896e354207508cc1b";
        let who = address!("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
        assert_eq!(recover_clob_auth(who, "100000", 0, sig), Some(who));
        assert_ne!(recover_clob_auth(who, "100001", 0, sig), Some(who));
    }
}
