//! The fake CLOB against the unmodified official client: authentication, signed orders,
//! matching, queries and cancels, and the exchange's refusals of bad signatures and keys.

use std::str::FromStr;

use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolStruct;
use polybox_tests::fake_clob::{FakeClob, TOKENS, exchange, signing};
use polymarket_client_sdk_v2::auth::state::Authenticated;
use polymarket_client_sdk_v2::auth::{Credentials, Normal, Signer as _, Uuid};
use polymarket_client_sdk_v2::clob::types::request::OrdersRequest;
use polymarket_client_sdk_v2::clob::types::{
    OrderPayload, OrderStatusType, OrderType, Side, SignableOrder, SignedOrder, TraderSide,
};
use polymarket_client_sdk_v2::clob::{Client, Config};
use polymarket_client_sdk_v2::error::{Kind, Status};
use polymarket_client_sdk_v2::types::{Decimal, U256};

/// Anvil's first key: a test key, never funded anywhere real.
const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
/// Anvil's second key.
const OTHER_KEY: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

fn signer(key: &str) -> PrivateKeySigner {
    PrivateKeySigner::from_str(key)
        .unwrap()
        .with_chain_id(Some(137))
}

/// An authenticated client (L1 create-or-derive against the fake).
async fn login(clob: &FakeClob, me: &PrivateKeySigner) -> Client<Authenticated<Normal>> {
    Client::new(&clob.url(), Config::default())
        .unwrap()
        .authentication_builder(me)
        .authenticate()
        .await
        .unwrap()
}

/// A GTC BUY of `size` at `price`, built (not signed).
async fn bid(
    client: &Client<Authenticated<Normal>>,
    token: U256,
    price: &str,
    size: &str,
) -> SignableOrder {
    client
        .limit_order()
        .token_id(token)
        .side(Side::Buy)
        .price(d(price))
        .size(d(size))
        .build()
        .await
        .unwrap()
}

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn order_id(o: &SignedOrder, neg_risk: bool) -> String {
    let OrderPayload::V2(p) = &o.payload else {
        panic!("a V2 order")
    };
    p.order
        .eip712_signing_hash(&signing::order_domain(neg_risk))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_client_trades_on_the_fake_with_verified_signatures() {
    let clob = FakeClob::start(0).await.unwrap();
    let me = signer(KEY);
    let client = login(&clob, &me).await;
    let token = U256::from_str(TOKENS[0]).unwrap();

    // A resting BUY: accepted, its id is the EIP-712 digest computed here.
    let order = bid(&client, token, "0.45", "10").await;
    let signed = client.sign(&me, order).await.unwrap();
    let id = order_id(&signed, false);
    let r = client.post_order(signed).await.unwrap();
    assert!(r.success, "{r:?}");
    assert_eq!(r.order_id, id);
    assert_eq!(r.status, OrderStatusType::Live);

    // A marketable BUY through two ask levels (0.51 and 0.52, 100 each).
    let order = client
        .limit_order()
        .token_id(token)
        .side(Side::Buy)
        .price(d("0.52"))
        .size(d("150"))
        .order_type(OrderType::FAK)
        .build()
        .await
        .unwrap();
    let r = client
        .post_order(client.sign(&me, order).await.unwrap())
        .await
        .unwrap();
    assert_eq!(r.status, OrderStatusType::Matched);
    assert_eq!(r.taking_amount, d("150"));
    assert_eq!(r.making_amount, d("77"));
    assert_eq!(clob.position(me.address(), TOKENS[0]), 150 * exchange::ONE);

    // The market sells into our bid: a maker fill.
    // (0.49 to 0.46 hold 100 each, then the 100 of background at 0.45, then ours.)
    assert_eq!(
        clob.take(
            TOKENS[0],
            exchange::Side::Sell,
            450_000,
            504 * exchange::ONE
        ),
        504 * exchange::ONE
    );
    let open = client
        .orders(&OrdersRequest::builder().build(), None)
        .await
        .unwrap();
    assert_eq!(open.data.len(), 1);
    assert_eq!(
        open.data[0].size_matched,
        d("4"),
        "the background at 0.45 went first"
    );
    let trades = client.trades(&Default::default(), None).await.unwrap();
    assert_eq!(trades.next_cursor, "LTE=");
    let maker: Vec<_> = trades
        .data
        .iter()
        .filter(|t| t.trader_side == TraderSide::Maker)
        .collect();
    assert_eq!(maker.len(), 1);
    assert_eq!((maker[0].size, maker[0].price), (d("4"), d("0.45")));

    // Cancels: once, then "already canceled".
    let c = client.cancel_order(&id).await.unwrap();
    assert_eq!(c.canceled, vec![id.clone()]);
    let c = client.cancel_order(&id).await.unwrap();
    assert_eq!(
        c.not_canceled.get(&id).map(String::as_str),
        Some("already canceled or matched")
    );

    let counters = clob.counters();
    assert_eq!(
        (
            counters.orders_accepted,
            counters.signature_failures,
            counters.auth_failures
        ),
        (2, 0, 0)
    );
    assert_eq!(counters.fills, 2, "one taker fill, one maker fill");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_signatures_and_keys_are_refused_as_the_exchange_does() {
    let clob = FakeClob::start(0).await.unwrap();
    let me = signer(KEY);
    let client = login(&clob, &me).await;
    let token = U256::from_str(TOKENS[2]).unwrap();
    // Signed by another key than the order's signer: "invalid signature".
    let order = bid(&client, token, "0.25", "10").await;
    let forged = client.sign(&signer(OTHER_KEY), order).await.unwrap();
    let e = client.post_order(forged).await.unwrap_err();
    let status = e.downcast_ref::<Status>().unwrap();
    assert_eq!(status.status_code.as_u16(), 400);
    assert!(
        status.message.contains("invalid signature"),
        "{}",
        status.message
    );
    assert_eq!(clob.counters().signature_failures, 1);

    // A neg-risk market: the client signs for the neg-risk exchange, and the fake agrees.
    let order = bid(&client, token, "0.25", "10").await;
    let signed = client.sign(&me, order).await.unwrap();
    let id = order_id(&signed, true);
    assert_eq!(client.post_order(signed).await.unwrap().order_id, id);

    // Credentials with a wrong secret: every L2 call is 401.
    let creds = Credentials::new(
        Uuid::nil(),
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".to_owned(),
        "a".repeat(64),
    );
    let stranger = Client::new(&clob.url(), Config::default())
        .unwrap()
        .authentication_builder(&me)
        .credentials(creds)
        .authenticate()
        .await
        .unwrap();
    let e = stranger
        .orders(&OrdersRequest::builder().build(), None)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), Kind::Status);
    assert_eq!(
        e.downcast_ref::<Status>().unwrap().status_code.as_u16(),
        401
    );
    assert!(clob.counters().auth_failures >= 1);
}
