//! The whole harness against the built binaries: the small soak must lose nothing while faults
//! of every kind and kills really happen, and the harness must see a loss when there is one.

use std::collections::BTreeSet;
use std::time::Instant;

use e2e::harness::{run, SoakConfig};
use e2e::proxy::Fault;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_soak_loses_no_accepted_webhook_under_faults_and_kills() {
    let config = SoakConfig::small(7);
    let started = Instant::now();
    let report = run(&config).await.unwrap_or_else(|err| panic!("{err}"));
    println!(
        "{report}\nsmall soak took {:.1}s",
        started.elapsed().as_secs_f64()
    );

    assert_eq!(report.lost_count(), 0, "{report}");
    // A second source's sweeper raced on the same table the whole time and sent none of ours.
    assert!(report.sweeper.rival_exit.is_some(), "{report}");
    assert_eq!(report.misrouted_count(), 0, "{report}");
    assert_eq!(report.wrong_body_messages, 0, "{report}");
    assert_eq!(report.unexpected_messages, 0, "{report}");
    assert_eq!((report.pending_left, report.parked), (0, 0), "{report}");
    assert_eq!((report.queue_left, report.dlq_depth), (0, 0), "{report}");
    assert_eq!(
        report.rejected(),
        0,
        "no signature or id problems: {report}"
    );

    // The run proves something only if the failures really happened.
    assert_eq!(report.kills, 3, "{report}");
    assert!(report.in_flight_at_kills > 0, "{report}");
    for kind in Fault::ALL {
        assert!(
            report.ingress_proxy.faults_of(kind) > 0,
            "no {kind} fault hit the ingress: {report}"
        );
    }
    for operation in ["dynamodb:PutItem", "sqs:SendMessage", "dynamodb:UpdateItem"] {
        assert!(
            report.ingress_proxy.faults_for(operation) > 0,
            "no fault on {operation}: {report}"
        );
    }
    assert!(report.provider_retries() > 0, "{report}");
    // Whether an answer outlasts the provider's 5 s patience depends on how busy the machine is
    // (a timed-out delivery is retried like a 500, and counted in the report): the response
    // budget itself is proven on a black hole in ingress/tests/it/rules.rs, not here.
    assert!(
        report.accepted * 10 >= report.events * 9,
        "most events must get through: {report}"
    );
    assert!(
        report.base64_messages > 0,
        "binary bodies travelled: {report}"
    );
    // Bodies over the row limit went through S3 under S3 faults too.
    assert!(report.s3_messages > 0, "pointers to S3 travelled: {report}");
    let s3_faults = report.ingress_proxy.faults_for("s3:PutObject")
        + report.ingress_proxy.faults_for("s3:CopyObject")
        + report.sweeper_proxy.faults_for("s3:CopyObject");
    assert!(s3_faults > 0, "no S3 fault: {report}");

    // The sweeper had work, did it, and never scanned the table.
    assert!(report.sweeper.pending_after_send > 0, "{report}");
    assert!(report.sweeper.runs > 0, "{report}");
    assert!(
        report.delivered_by.get("sweeper").copied().unwrap_or(0) > 0,
        "{report}"
    );
    assert!(
        report.sweeper_proxy.requests_for("dynamodb:Query") > 0,
        "{report}"
    );
    assert_eq!(
        report.sweeper_proxy.requests_for("dynamodb:Scan"),
        0,
        "{report}"
    );
    assert_eq!(
        report.ingress_proxy.requests_for("dynamodb:Scan"),
        0,
        "{report}"
    );

    // Least privilege, checked at run time: the AWS operations each binary really called are
    // exactly the IAM actions its crate declares (tests/infra checks Terraform grants those).
    // With the bucket, S3 actions too, but only LARGE_BODY_IAM_ACTIONS: whether a run calls them
    // depends on which large bodies a fault left for whom (the sweeper may have none to re-tag).
    for (stats, base, large) in [
        (
            &report.ingress_proxy,
            ingress::IAM_ACTIONS,
            ingress::LARGE_BODY_IAM_ACTIONS,
        ),
        (
            &report.sweeper_proxy,
            sweeper::IAM_ACTIONS,
            sweeper::LARGE_BODY_IAM_ACTIONS,
        ),
    ] {
        let called = iam_actions_called(stats);
        assert_eq!(&called - &declared(large), declared(base), "{report}");
        assert!(
            called.is_subset(&(&declared(base) | &declared(large))),
            "{report}"
        );
    }
    assert!(
        iam_actions_called(&report.ingress_proxy).contains("s3:PutObjectTagging"),
        "{report}"
    );
}

/// The IAM action behind each operation the proxy saw (SendMessageBatch is authorised by
/// sqs:SendMessage).
fn iam_actions_called(stats: &e2e::proxy::ProxyStats) -> BTreeSet<String> {
    stats
        .requests
        .keys()
        .flat_map(|operation| match operation.as_str() {
            "sqs:SendMessageBatch" => vec!["sqs:SendMessage"],
            // Objects are written with their tag, so both need the tagging permission.
            "s3:PutObject" => vec!["s3:PutObject", "s3:PutObjectTagging"],
            // A copy onto itself reads the source and writes the object with a new tag.
            "s3:CopyObject" => vec!["s3:GetObject", "s3:PutObject", "s3:PutObjectTagging"],
            other => vec![other],
        })
        .map(str::to_owned)
        .collect()
}

fn declared(actions: &[&str]) -> BTreeSet<String> {
    actions.iter().map(|action| (*action).to_owned()).collect()
}

/// The control experiment: SQS always failing, no sweeper. The ingress rightly answers 200 (the
/// rows are durable), nothing reaches the queue, and the harness must call every event lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harness_reports_accepted_events_that_never_reach_the_queue_as_lost() {
    let mut config = SoakConfig::small(3);
    config.events = 30;
    config.kills = 0;
    config.send_fault_rate = 1.0;
    config.dynamodb_fault_rate = 0.0;
    config.fault_kinds = vec![Fault::Error500];
    config.duplicate_rate = 0.0;
    config.sweeper.enabled = false;
    config.keep_evidence = false;

    let report = run(&config).await.unwrap_or_else(|err| panic!("{err}"));

    assert_eq!(report.accepted, 30, "{report}");
    assert_eq!(report.messages, 0, "{report}");
    assert_eq!(report.lost_count(), 30, "{report}");
    assert_eq!(report.pending_left, 30, "{report}");
    let lost = &report.lost[0];
    assert!(
        lost.row
            .as_deref()
            .is_some_and(|row| row.contains("status=pending")),
        "{lost:?}"
    );
    assert!(!lost.log_lines.is_empty(), "{lost:?}");
    assert!(
        report.log_dir.is_none(),
        "evidence of an intended loss is not kept"
    );
}
