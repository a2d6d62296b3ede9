use super::*;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn parse(json: &str) -> Result<Config, ConfigError> {
    Config::parse(json.as_bytes())
}

fn field(json: &str) -> String {
    parse(json).unwrap_err().field
}

#[test]
fn a_full_budget_section_compiles() {
    let c = parse(
        r#"{"attributes": {"team": "x-team"},
            "budgets": {
              "namespace": "prod", "slots": 64, "fail_mode": "closed",
              "default_output_tokens": 2000, "reservation_ttl_seconds": 300,
              "tenants": {
                "acme": {"requests_per_minute": 60, "tokens_per_minute": 100000,
                         "input_tokens_per_minute": 80000, "output_tokens_per_minute": 20000,
                         "tokens_per_day": 1000000, "usd_per_day": "25.5", "usd_per_month": 500,
                         "soft_usd_per_day": "20", "downgrade_to": "gpt-4o-mini",
                         "allow_models": ["gpt-4o*"], "deny_models": ["gpt-4o-realtime*"],
                         "max_tokens": 4096, "clamp_max_tokens": true},
                "*": {"requests_per_minute": 10, "shadow": true}},
              "attributes": {"team": {"search": {"usd_per_month": "1000"}}},
              "runs": {"header": "X-Agent-Run-Id", "max_requests": 50, "max_tokens": 200000, "max_usd": "2"},
              "loops": {"threshold": 3, "window_seconds": 120},
              "spikes": {"factor": "4.5", "throttle": true}}}"#,
    )
    .unwrap();
    let b = c.budgets.unwrap();
    assert_eq!(
        (b.namespace.as_str(), b.slots, b.fail_closed),
        ("prod", 64, true)
    );
    let acme = &b.tenants["acme"];
    assert_eq!(acme.limits.usd_per_day, Some(25_500_000_000));
    assert_eq!(acme.limits.usd_per_month, Some(500_000_000_000));
    assert_eq!(acme.soft_usd_per_day, Some(20_000_000_000));
    assert!(acme.allows_model("gpt-4o-mini") && !acme.allows_model("gpt-4o-realtime-preview"));
    assert!(!acme.allows_model("claude-3"));
    assert!(b.tenant_policy("nobody").unwrap().shadow);
    assert_eq!(
        b.attribute_policy("team", "search")
            .unwrap()
            .limits
            .usd_per_month,
        Some(1_000_000_000_000)
    );
    assert_eq!(b.attribute_policy("team", "ads"), None);
    let runs = b.runs.unwrap();
    assert_eq!(
        (runs.header.as_str(), runs.limits.usd_total),
        ("x-agent-run-id", Some(2_000_000_000))
    );
    assert_eq!(b.loops.unwrap().tail_messages, 2);
    assert_eq!(b.spikes.unwrap().rule.factor_milli, 4500);
}

#[test]
fn budget_errors_name_their_field() {
    assert_eq!(
        field(r#"{"budgets": {"tenants": {"acme": {"usd_per_day": "1.0000000001"}}}}"#),
        "budgets.tenants.acme.usd_per_day"
    );
    assert_eq!(
        field(r#"{"budgets": {"tenants": {"acme": {"rpm": 1}}}}"#),
        "budgets.tenants.acme.rpm"
    );
    assert_eq!(
        field(r#"{"budgets": {"attributes": {"team": {}}}}"#),
        "budgets.attributes.team"
    );
    assert_eq!(
        field(r#"{"budgets": {"tenants": {"a": {"soft_usd_per_day": 1}}}}"#),
        "budgets.tenants.a.downgrade_to"
    );
    assert_eq!(
        field(r#"{"budgets": {"loops": {"threshold": 1, "window_seconds": 5}}}"#),
        "budgets.loops.threshold"
    );
    assert_eq!(
        field(r#"{"budgets": {"spikes": {"factor": 1}}}"#),
        "budgets.spikes.factor"
    );
    assert_eq!(field(r#"{"budgets": {"slots": 0}}"#), "budgets.slots");
    assert_eq!(
        field(r#"{"budgets": {"tenants": {"a": {"tokens_per_minute": 1000000000001}}}}"#),
        "budgets.tenants.a.tokens_per_minute"
    );
    assert_eq!(
        field(r#"{"budgets": {"loops": {"threshold": 2, "window_seconds": 99999999999}}}"#),
        "budgets.loops.window_seconds"
    );
    assert_eq!(
        field(r#"{"budgets": {"runs": {"header": "x-run", "idle_seconds": 99999999999}}}"#),
        "budgets.runs.idle_seconds"
    );
    assert_eq!(
        field(r#"{"budgets": {"reservation_ttl_seconds": 99999999999}}"#),
        "budgets.reservation_ttl_seconds"
    );
    assert_eq!(
        field(r#"{"budgets": {"namespace": "a/b"}}"#),
        "budgets.namespace"
    );
    assert_eq!(
        field(r#"{"budgets": {"runs": {"header": ":path"}}}"#),
        "budgets.runs.header"
    );
    assert_eq!(
        field(r#"{"budgets": {"tenants": {"a": {"deny_models": ["x", ""]}}}}"#),
        "budgets.tenants.a.deny_models[1]"
    );
}

#[test]
fn model_globs() {
    for (p, t, want) in [
        ("gpt-4o*", "gpt-4o-mini", true),
        ("gpt-4o*", "gpt-4", false),
        ("*mini", "gpt-4o-mini", true),
        ("claude-*-4*", "claude-sonnet-4-5", true),
        ("claude-*-4*", "claude-3-haiku", false),
        ("*", "", true),
        ("a*b*c", "abbbc", true),
        ("a*b*c", "acb", false),
        ("exact", "exact", true),
        ("exact", "exactly", false),
    ] {
        assert_eq!(glob_match(p, t), want, "{p} vs {t}");
    }
}
