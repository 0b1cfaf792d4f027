//! Hostile guest: submits thousands of intents from one callback, ignoring refusals. The
//! host refuses the excess as `rate-limit`, then stops and quarantines it.

use polybox_sdk::{
    BookUpdate, Host, Intent, MarketInfo, Side, Strategy, TimeInForce, export_strategy,
};

/// Floods.
pub struct Flooder;

impl Strategy for Flooder {
    fn init(_: &str, m: &[MarketInfo], _: &mut dyn Host) -> Result<(Self, Vec<String>), String> {
        Ok((Flooder, m.iter().map(|m| m.token.clone()).collect()))
    }
    fn on_book(&mut self, host: &mut dyn Host, u: &BookUpdate) {
        for _ in 0..10_000 {
            let _ = host.submit(Intent {
                token: u.token.clone(),
                side: Side::Buy,
                price: 10_000,
                size: 5_000_000,
                tif: TimeInForce::Gtc,
                post_only: true,
            });
        }
    }
}

export_strategy!(Flooder);
