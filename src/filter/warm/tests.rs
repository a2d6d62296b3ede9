use super::super::test_support::shared;
use super::*;
use crate::fake::FakeHost;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

/// Both throwaway exchanges are metered (they ran the whole path) whatever the routes and fail
/// mode, and the real VM's state is left alone: no copy held, no counter defined.
#[test]
fn warm_up_meters_its_exchanges_apart() {
    for cfg in [
        "{}",
        r#"{"routes":[{"path":"/only/**"}],"fail_mode":"closed"}"#,
        r#"{"stamp":{"header_prefix":"x-gw-"},"allow_on_headers_stop_iteration":true}"#,
    ] {
        let shared = shared(cfg);
        assert_eq!(warm_up(&shared), 2, "{cfg}");
        assert_eq!(shared.copied.get(), 0);
        let mut host = FakeHost::default();
        shared.metrics.borrow_mut().invalid(&mut host, "x");
        assert_eq!(
            host.counter(&format!(
                "{}.invalid.reason.x.requests",
                shared.config.metrics_prefix
            )),
            1
        );
    }
}
