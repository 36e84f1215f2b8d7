//! `cargo xtask coldstart`'s local measurement on the packaged functions: every row a real forced
//! cold start through the gateway, with the Init Duration of the function that served it.

use std::collections::BTreeMap;

use e2e::lambda_dir;
use e2e::local_stack::{dev_config, rendered_template, seed_key};
use measure::coldstart::{Plan, Probe, measure_pattern};
use stack::{ApiTemplate, Pattern};

async fn measure_every_route(pattern: Pattern) -> measure::coldstart::PatternResult {
    let config = dev_config();
    let template = ApiTemplate::read(&rendered_template(pattern, &config)).unwrap();
    let state = tempfile::tempdir().unwrap();
    for pool in &config.user_pools {
        seed_key(state.path(), pool);
    }
    let plan = Plan {
        pattern: pattern.name().to_owned(),
        template,
        user_pools: config.user_pools.clone(),
        artifacts_dir: lambda_dir(),
        state_dir: state.path().to_owned(),
        function_env: BTreeMap::new(),
        probes: Probe::all(true),
        samples: 2,
        burst: 2,
    };
    measure_pattern(plan, &mut |_| {})
        .await
        .unwrap_or_else(|e| panic!("measuring {}: {e}", pattern.name()))
}

/// One row per route, each through its own single-purpose function, writes included (a create
/// is a 201 each time, a get or delete of a name never made is the store's 404), every sample a
/// cold start with its Init Duration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_per_route_run_cold_starts_each_routes_own_function() {
    let single = measure_every_route(Pattern::Single).await;
    let rows: Vec<(&str, &str)> = single
        .groups
        .iter()
        .map(|g| (g.group.as_str(), g.function.as_str()))
        .collect();
    let expected: Vec<(&str, String)> = routes::ROUTES
        .iter()
        .map(|r| {
            (
                r.operation.slug(),
                format!("catalog-dev-{}", r.operation.slug()),
            )
        })
        .collect();
    assert_eq!(
        rows,
        expected
            .iter()
            .map(|(slug, function)| (*slug, function.as_str()))
            .collect::<Vec<_>>()
    );
    for row in &single.groups {
        assert_eq!(row.cold.len(), 2, "{}: {:?}", row.group, row.not_cold);
        assert!(row.cold.iter().all(|s| s.init_ms > 0.0), "{}", row.group);
        assert_eq!(row.warm_ms.len(), 2, "{}", row.group);
    }
    let deployment = single.deployment.unwrap();
    assert_eq!(deployment.functions, routes::ROUTES.len() + 1);
}

/// The same routes on the lith: one function behind every row, cold-started for each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_per_route_run_of_the_lith_cold_starts_its_one_function_for_every_route() {
    let lith = measure_every_route(Pattern::Lith).await;
    assert_eq!(lith.groups.len(), routes::ROUTES.len());
    for row in &lith.groups {
        assert_eq!(row.function, "catalog-dev-lith");
        assert_eq!(row.cold.len(), 2, "{}: {:?}", row.group, row.not_cold);
    }
}
