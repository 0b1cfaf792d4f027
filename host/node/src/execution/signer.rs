//! The order signer: the wallet's key signing EIP-712 digests with libsecp256k1, which
//! signs several times faster than the pure-Rust curve under alloy's local signer. The
//! nonce is RFC 6979's and the signature low-s, as there: the signatures are the same,
//! byte for byte (checked below).

use alloy::primitives::{Address, B256, ChainId, Signature, U256};
use alloy::signers::Signer;
use alloy::signers::local::PrivateKeySigner;
use secp256k1::{Message, Secp256k1, SecretKey, SignOnly};

/// Signs for the wallet of a private key. Never prints the key.
pub struct OrderSigner {
    context: Secp256k1<SignOnly>,
    key: SecretKey,
    address: Address,
    chain_id: Option<ChainId>,
}

impl std::fmt::Debug for OrderSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrderSigner")
            .field("address", &self.address)
            .field("chain_id", &self.chain_id)
            .finish_non_exhaustive()
    }
}

impl OrderSigner {
    /// The signer of `local`'s key, for the same address and chain.
    pub fn new(local: &PrivateKeySigner) -> Result<OrderSigner, String> {
        let key = SecretKey::from_byte_array(local.to_bytes().0)
            .map_err(|_| "the private key is not a valid secp256k1 key".to_owned())?;
        Ok(OrderSigner {
            context: Secp256k1::signing_only(),
            key,
            address: local.address(),
            chain_id: local.chain_id(),
        })
    }
}

#[async_trait::async_trait]
impl Signer for OrderSigner {
    async fn sign_hash(&self, hash: &B256) -> alloy::signers::Result<Signature> {
        let signature = self
            .context
            .sign_ecdsa_recoverable(Message::from_digest(hash.0), &self.key);
        let (id, rs) = signature.serialize_compact();
        Ok(Signature::new(
            U256::from_be_slice(&rs[..32]),
            U256::from_be_slice(&rs[32..]),
            i32::from(id) & 1 == 1,
        ))
    }

    fn address(&self) -> Address {
        self.address
    }

    fn chain_id(&self) -> Option<ChainId> {
        self.chain_id
    }

    fn set_chain_id(&mut self, chain_id: Option<ChainId>) {
        self.chain_id = chain_id;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[tokio::test]
    async fn signatures_are_alloy_s_byte_for_byte_and_recover_to_the_address() {
        for key in [
            "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318",
            "0x0000000000000000000000000000000000000000000000000000000000000001",
            "0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140",
        ] {
            let local = PrivateKeySigner::from_str(key)
                .unwrap()
                .with_chain_id(Some(137));
            let fast = OrderSigner::new(&local).unwrap();
            assert_eq!(
                (fast.address(), fast.chain_id()),
                (local.address(), Some(137))
            );
            for i in 0u8..64 {
                let hash = alloy::primitives::keccak256([i; 7]);
                let want = local.sign_hash(&hash).await.unwrap();
                let got = fast.sign_hash(&hash).await.unwrap();
                assert_eq!(got, want, "key {key}, digest {hash}");
                assert_eq!(
                    got.recover_address_from_prehash(&hash).unwrap(),
                    local.address()
                );
            }
        }
        // Its debug form names the address, never the key.
        let key = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
        let local = PrivateKeySigner::from_str(key).unwrap();
        let shown = format!("{:?}", OrderSigner::new(&local).unwrap());
        assert!(shown.contains(&format!("{:?}", local.address())), "{shown}");
        assert!(
            !shown.contains(key) && !shown.contains("SecretKey"),
            "{shown}"
        );
    }
}
