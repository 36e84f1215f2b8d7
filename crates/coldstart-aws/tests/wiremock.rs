//! The cold-start measurement against a fake AWS (wiremock standing in for Lambda, CloudWatch
//! Logs, CloudFormation, STS and S3): whole runs, failures and interruptions, and in every case
//! no temporary function left behind.

mod fake_aws;

use std::path::Path;
use std::time::Duration;

use coldstart_aws::{ColdstartError, Interrupt, Measurement, Plan, RunError, Timing};
use fake_aws::*;
use packaging::Architecture;
use stack::{EnvConfig, Pattern};
use wiremock::MockServer;

fn plan(
    packages: &Packages,
    patterns: &[Pattern],
    architectures: &[Architecture],
    memory_mb: &[u32],
    samples: usize,
) -> Plan {
    let deploy_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
    Plan {
        env: "dev".into(),
        config: EnvConfig::load(&deploy_dir, "dev").expect("deploy/envs/dev.toml loads"),
        patterns: patterns.to_vec(),
        architectures: architectures.to_vec(),
        memory_mb: memory_mb.to_vec(),
        samples,
        packages: packages.artifacts.clone(),
        command: "cargo xtask coldstart --target aws".into(),
    }
}

fn measurement(server: &MockServer) -> Measurement {
    Measurement::new(session(server)).timing(Timing {
        poll: Duration::from_millis(5),
        max_update: Duration::from_secs(10),
        max_log_wait: Duration::from_secs(10),
    })
}

/// A fake account with the lith stack deployed and Lambda behaving as `behaviour` says.
async fn account(behaviour: Behaviour) -> (MockServer, FakeLambda) {
    let server = MockServer::start().await;
    mount_account(&server).await;
    mount_stack(&server).await;
    let lambda = FakeLambda::mount(&server, behaviour).await;
    (server, lambda)
}

fn temporary(name: &str) -> bool {
    name.starts_with("catalog-dev-cs")
}

#[tokio::test]
async fn a_whole_run_over_the_patterns_architectures_and_memory_sizes_leaves_nothing_behind() {
    let (server, lambda) = account(Behaviour::default()).await;
    let packages = Packages::new();
    let plan = plan(
        &packages,
        &Pattern::ALL,
        &[Architecture::X86_64, Architecture::Arm64],
        &[128, 512],
        2,
    );
    let mut progress = Recorder::default();
    let run = measurement(&server)
        .run(&plan, &mut progress, &Interrupt::new())
        .await
        .unwrap_or_else(|e| panic!("{e}\n{:#?}", progress.lines));

    // 3 patterns x 2 architectures x 2 memory sizes, each with its 3 route groups, 2 cold
    // starts each: every one counted, since every report had an Init Duration.
    assert_eq!(run.run.patterns.len(), 12);
    for result in &run.run.patterns {
        assert_eq!(result.groups.len(), 3, "{}", result.label());
        for group in &result.groups {
            assert_eq!(group.cold.len(), 2, "{} {}", result.label(), group.group);
            assert!(group.not_cold.is_empty());
            let sample = &group.cold[0];
            assert_eq!(sample.max_memory_used_mb, Some(31));
            assert!(sample.duration_ms.unwrap() >= 40.0);
            assert!(sample.first_request_ms > 0.0);
        }
    }
    assert_eq!(progress.total, Some(72));
    assert_eq!(progress.samples, (1..=72).collect::<Vec<_>>());
    assert_eq!(run.cost.usage.requests, 72);
    assert_eq!(run.run.aws_region.as_deref(), Some(REGION));

    let state = lambda.state.lock().unwrap();
    // Every Invoke waited for its update: none was refused as in progress, and every one ran
    // in a new execution environment at the memory size measured.
    assert_eq!(state.refused_in_progress, 0);
    assert!(state.invocations.iter().all(|i| i.cold));
    assert_eq!(state.updates, 72);
    // One function per architecture, pattern and group; every one deleted.
    assert_eq!(state.created.len(), 18);
    assert!(
        state.created.iter().all(|n| temporary(n)),
        "{:?}",
        state.created
    );
    assert_eq!(state.deleted, state.created);
    assert_eq!(run.functions.created, state.created);
    assert_eq!(run.functions.deleted, state.created);
    assert!(run.functions.left_behind.is_empty());
    drop(state);
    assert!(lambda.left_behind().is_empty());

    // The events are the gateway's: the fat projects function gets its collection's resource,
    // the lith's health check comes through its /health resource, with the stage and API id.
    let state = lambda.state.lock().unwrap();
    let fat_projects = state
        .invocations
        .iter()
        .find(|i| i.function.contains("-fat-projects-"))
        .unwrap();
    assert_eq!(fat_projects.event["resource"], "/api/v0/projects");
    assert_eq!(fat_projects.event["queryStringParameters"]["limit"], "1");
    assert_eq!(fat_projects.event["requestContext"]["stage"], "dev");
    assert_eq!(fat_projects.event["requestContext"]["apiId"], API_ID);
    let lith_meta = state
        .invocations
        .iter()
        .find(|i| i.function.contains("-lith-meta-"))
        .unwrap();
    assert_eq!(lith_meta.event["path"], "/health");
    // The single pattern's projects group is its list-projects function, with the same event.
    let single_projects = state
        .invocations
        .iter()
        .find(|i| i.function.contains("-single-projects-"))
        .unwrap();
    assert_eq!(single_projects.event["resource"], "/api/v0/projects");
    assert!(state.invocations.iter().any(|i| i.memory_mb == 128));
    assert!(state.invocations.iter().any(|i| i.memory_mb == 512));
    drop(state);

    // The table, ratios, JSON and chart of the local command, with the further dimensions.
    let out = tempfile::tempdir().unwrap();
    let written = run.write(out.path()).expect("written");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&written["json"]).unwrap()).unwrap();
    assert_eq!(json["aws_region"], REGION);
    assert_eq!(json["patterns"].as_array().unwrap().len(), 12);
    assert_eq!(json["functions"]["deleted"].as_array().unwrap().len(), 18);
    assert_eq!(json["cost"]["usage"]["requests"], 72);
    let svg = std::fs::read_to_string(&written["svg"]).unwrap();
    assert!(
        svg.contains("lith arm64 512 MB")
            && svg.contains("fat x86_64 128 MB")
            && svg.contains("single arm64 128 MB")
    );
    let table = run.table();
    assert_eq!(std::fs::read_to_string(&written["table"]).unwrap(), table);
    // The fake's lith starts 12 ms slower than its fat: the ratios say so per dimension.
    assert!(table.contains("projects arm64 512 MB"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.contains("meta x86_64 128 MB") && l.contains("init 1.20x")),
        "{table}"
    );
}

#[tokio::test]
async fn reports_missing_from_the_log_tail_are_read_from_cloudwatch_logs() {
    let (server, lambda) = account(Behaviour {
        tail: Tail::WithoutReport,
        ..Behaviour::default()
    })
    .await;
    let packages = Packages::new();
    let plan = plan(
        &packages,
        &[Pattern::Fat],
        &[Architecture::Arm64],
        &[1024],
        1,
    );
    let run = measurement(&server)
        .run(&plan, &mut Recorder::default(), &Interrupt::new())
        .await
        .unwrap();
    let groups = &run.run.patterns[0].groups;
    assert!(groups.iter().all(|g| g.cold.len() == 1), "{groups:?}");
    assert!(
        lambda.state.lock().unwrap().filter_calls >= 4,
        "one miss, then one per group"
    );
    assert!(lambda.left_behind().is_empty());
}

#[tokio::test]
async fn a_function_error_stops_the_run_and_deletes_what_it_created() {
    let (server, lambda) = account(Behaviour {
        function_error_on: Some(3),
        ..Behaviour::default()
    })
    .await;
    let packages = Packages::new();
    let plan = plan(
        &packages,
        &[Pattern::Lith],
        &[Architecture::X86_64],
        &[128, 256],
        1,
    );
    let RunError {
        error,
        cleanup,
        cost,
    } = measurement(&server)
        .run(&plan, &mut Recorder::default(), &Interrupt::new())
        .await
        .unwrap_err();
    let ColdstartError::FunctionError {
        function,
        kind,
        detail,
        log,
    } = &error
    else {
        panic!("{error}");
    };
    assert!(temporary(function));
    assert_eq!(kind, "Unhandled");
    assert!(
        detail.contains("Runtime.ExitError: RequestId: x Error: Runtime exited"),
        "{detail}"
    );
    assert!(
        log.contains("START RequestId:"),
        "the log tail is shown: {log}"
    );
    assert_eq!(
        cost.usage.requests, 3,
        "the failed invocation is a request too"
    );
    assert_eq!(cleanup.created.len(), 2, "{cleanup:?}");
    assert_eq!(cleanup.deleted, cleanup.created);
    assert!(lambda.left_behind().is_empty());
}

#[tokio::test]
async fn a_failed_configuration_update_still_deletes_what_was_created() {
    let (server, lambda) = account(Behaviour {
        update_fails_on: Some(2),
        ..Behaviour::default()
    })
    .await;
    let packages = Packages::new();
    let plan = plan(
        &packages,
        &[Pattern::Fat],
        &[Architecture::X86_64],
        &[128],
        2,
    );
    let failed = measurement(&server)
        .run(&plan, &mut Recorder::default(), &Interrupt::new())
        .await
        .unwrap_err();
    assert!(
        matches!(&failed.error, ColdstartError::UpdateFailed { reason, .. } if reason.contains("KMS key")),
        "{failed}"
    );
    assert!(
        failed
            .to_string()
            .contains("created 1 temporary function(s), deleted 1"),
        "{failed}"
    );
    assert_eq!(
        failed.cost.usage.requests, 1,
        "the first sample was invoked"
    );
    assert!(lambda.left_behind().is_empty());
}

#[tokio::test]
async fn ctrl_c_during_an_invoke_deletes_what_was_created() {
    let interrupt = Interrupt::new();
    let (server, lambda) = account(Behaviour {
        interrupt_on_invoke: Some((5, interrupt.clone())),
        ..Behaviour::default()
    })
    .await;
    let packages = Packages::new();
    let plan = plan(
        &packages,
        &[Pattern::Lith, Pattern::Fat],
        &[Architecture::X86_64],
        &[128],
        2,
    );
    let mut progress = Recorder::default();
    let failed = measurement(&server)
        .run(&plan, &mut progress, &interrupt)
        .await
        .unwrap_err();
    assert!(
        matches!(failed.error, ColdstartError::Interrupted),
        "{failed}"
    );
    // Half way: the third function was being measured.
    assert_eq!(failed.cleanup.created.len(), 3, "{:?}", failed.cleanup);
    assert_eq!(failed.cleanup.deleted, failed.cleanup.created);
    assert!(
        progress
            .lines
            .iter()
            .any(|l| l.contains("interrupted: deleting"))
    );
    assert!(lambda.left_behind().is_empty());
}

#[tokio::test]
async fn ctrl_c_during_a_creation_deletes_the_function_whose_answer_never_came() {
    let interrupt = Interrupt::new();
    let (server, lambda) = account(Behaviour {
        interrupt_on_create: Some((2, interrupt.clone())),
        ..Behaviour::default()
    })
    .await;
    let packages = Packages::new();
    let plan = plan(
        &packages,
        &[Pattern::Fat],
        &[Architecture::Arm64],
        &[128],
        1,
    );
    let failed = measurement(&server)
        .run(&plan, &mut Recorder::default(), &interrupt)
        .await
        .unwrap_err();
    assert!(
        matches!(failed.error, ColdstartError::Interrupted),
        "{failed}"
    );
    assert_eq!(lambda.state.lock().unwrap().created.len(), 2);
    assert_eq!(failed.cleanup.created.len(), 2, "{:?}", failed.cleanup);
    assert_eq!(failed.cleanup.deleted, failed.cleanup.created);
    assert!(lambda.left_behind().is_empty());
}

#[tokio::test]
async fn without_the_stack_nothing_is_created_and_the_deploy_command_is_named() {
    let server = MockServer::start().await;
    mount_account(&server).await;
    mount_no_stack(&server).await;
    let lambda = FakeLambda::mount(&server, Behaviour::default()).await;
    let packages = Packages::new();
    let plan = plan(
        &packages,
        &[Pattern::Lith],
        &[Architecture::X86_64],
        &[128],
        1,
    );
    let failed = measurement(&server)
        .run(&plan, &mut Recorder::default(), &Interrupt::new())
        .await
        .unwrap_err();
    assert!(matches!(failed.error, ColdstartError::NoStack { .. }));
    assert!(
        failed
            .to_string()
            .contains("cargo xtask deploy --pattern lith --target aws --env dev"),
        "{failed}"
    );
    assert!(lambda.state.lock().unwrap().created.is_empty());
    assert!(failed.cleanup.created.is_empty());
}
