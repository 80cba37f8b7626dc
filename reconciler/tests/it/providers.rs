//! The reconciler against GitLab's hook events API and Paddle Billing's notifications API (local
//! servers answering their documented endpoints, e2e's `provider_api`), each redelivering by
//! POSTing a correctly signed webhook to the real ingress binary.

use std::sync::{Arc, Mutex};

use e2e::provider_api::{
    gitlab_handler, paddle_handler, reply, GitLabHook, Handler, MockApi, PaddleAccount,
    GITLAB_HOOK, GITLAB_SECRET, GITLAB_TOKEN, PADDLE_DESTINATION, PADDLE_KEY, PADDLE_SECRET,
};
use http::StatusCode;
use serde_json::json;
use shared::time::now_millis;

use super::{ids, run, Scene, SOURCE};
use reconciler::RunOutcome;

/// The ingress binary with `scheme` and `secret`, for the scene's stack; its URL.
async fn ingress(
    scene: &Scene,
    scheme: &str,
    secret: &str,
) -> (e2e::processes::IngressProcess, String) {
    scene.stack.put_secret(secret).await;
    let binary = e2e::processes::ingress_binary().unwrap_or_else(|err| panic!("{err}"));
    let address = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port");
    let mut env = scene.stack.binary_env();
    env.push(("SIGNATURE_SCHEME".to_owned(), scheme.to_owned()));
    let logs = std::env::temp_dir().join(e2e::testing::unique("reconciler-ingress"));
    std::fs::create_dir_all(&logs).expect("a log directory");
    let process = e2e::processes::IngressProcess::start(binary, env, address, logs)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    (process, format!("http://{address}/"))
}

/// The event key a message came from: the marker its body carries.
fn body_marker(message: &e2e::testing::ReceivedMessage, field: &str) -> String {
    let body: serde_json::Value = serde_json::from_slice(&message.raw_body()).expect("JSON");
    body[field].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn gitlab_failed_events_are_resent_through_the_ingress_once_and_a_gone_one_is_reported() {
    let scene = Scene::new(GITLAB_TOKEN).await;
    let (_ingress, ingress_url) = ingress(&scene, "gitlab", GITLAB_SECRET).await;
    let hook = Arc::new(Mutex::new(GitLabHook::new(ingress_url)));
    {
        let mut hook = hook.lock().expect("lock");
        hook.log(19, "k-new", "404", 5);
        hook.log(18, "k-ok", "200", 6);
        hook.log(17, "k-ok", "internal error", 7);
        hook.log(16, "k-present", "502", 8);
        hook.log(15, "k-second-page", "internal error", 9);
        hook.log(14, "k-gone", "500", 10);
        hook.log(13, "k-before", "404", 180);
        hook.gone.push("k-gone".to_owned());
        // The resend endpoint's limit (five a minute): the first resend waits it out.
        hook.limited_resends = 1;
    }
    // k-present reached the outbox under its delivery's X-Gitlab-Event-UUID (answered too late).
    let outbox = scene.outbox().await;
    let present = shared::event::AcceptedEvent::new(
        SOURCE,
        "k-present-uuid-16".to_owned(),
        None,
        bytes::Bytes::from_static(b"{}"),
        now_millis(),
    );
    outbox.insert_pending(&present).await.expect("PutItem");
    // The API fails once in the middle of the listing (page 2), then answers.
    let broken = Arc::new(Mutex::new(true));
    let inner = gitlab_handler(Arc::clone(&hook));
    let handler: Handler = {
        let broken = Arc::clone(&broken);
        Arc::new(move |method, path: String, headers| {
            if path.contains("page=2") && std::mem::take(&mut *broken.lock().expect("lock")) {
                return Box::pin(async {
                    reply(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        &[],
                        json!({"message": "500 Internal Server Error"}),
                    )
                });
            }
            inner(method, path, headers)
        })
    };
    let gitlab = MockApi::start(handler).await;
    let reconciler = scene
        .reconciler(&[
            ("RECONCILE_PROVIDER", "gitlab"),
            ("RECONCILE_GITLAB_HOOK", GITLAB_HOOK),
            ("GITLAB_API_BASE", gitlab.base.as_str()),
            ("RECONCILE_LOOKBACK_SECS", "3600"),
        ])
        .await;

    // The listing fails on its second page: nothing asked, the checkpoint does not move.
    let now = now_millis();
    let failed = run(&reconciler, now).await;
    assert_eq!(failed.outcome, RunOutcome::Failed, "{failed:?}");
    assert!(
        failed
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("500 Internal Server Error"),
        "{failed:?}"
    );
    assert_eq!(scene.checkpoint_at().await, None);
    assert_eq!(gitlab.count("POST"), 0);

    let report = run(&reconciler, now + 1_000).await;
    assert_eq!(report.outcome, RunOutcome::Reconciled, "{report:?}");
    assert_eq!(
        (report.listed, report.missing),
        (5, 3),
        "k-before is outside the window, k-ok was delivered, k-present has a row: {report:?}"
    );
    assert_eq!(
        (report.recovered, report.unrecoverable, report.failed),
        (2, 1, 0),
        "{report:?}"
    );
    assert!(
        report.failures[0].contains("k-gone") && report.failures[0].contains("404"),
        "{:?}",
        report.failures
    );
    assert_eq!(
        report.checkpoint_after,
        Some(now + 1_000),
        "a refusal for good holds nothing back"
    );
    assert!(
        gitlab.requests().iter().any(|r| r.contains("page=2")),
        "followed x-next-page: {:?}",
        gitlab.requests()
    );
    let resends = |log: u64| {
        gitlab.count(&format!(
            "POST /projects/acme%2Fshop/hooks/42/events/{log}/resend"
        ))
    };
    assert_eq!(
        (resends(14), resends(15), resends(19)),
        (2, 1, 1),
        "k-gone's resend was rate limited and asked again once the wait was over"
    );
    let messages = scene.drain().await;
    let mut resent: Vec<String> = messages
        .iter()
        .map(|m| body_marker(m, "key_in_test"))
        .collect();
    resent.sort();
    assert_eq!(resent, ["k-new", "k-second-page"]);
    assert!(messages
        .iter()
        .all(|m| m.attribute("delivered-by") == Some("ingress")
            && m.attribute("event-type") == Some("Push Hook")));
    let new = messages
        .iter()
        .find(|m| body_marker(m, "key_in_test") == "k-new")
        .expect("k-new");
    assert_eq!(
        new.raw_body(),
        hook.lock().expect("lock").payloads["k-new"].to_vec(),
        "the logged payload, byte for byte"
    );

    // Again: the resent events have a delivery that succeeded; nothing is asked twice.
    let again = run(&reconciler, now + 60_000).await;
    assert_eq!(again.recovered, 0, "{again:?}");
    assert_eq!(again.unrecoverable, 1, "k-gone is still gone");
    assert!(scene.drain().await.is_empty(), "nothing sent twice");
    assert_eq!((resends(15), resends(19)), (1, 1), "each resent once");
}

#[tokio::test(flavor = "multi_thread")]
async fn paddle_undelivered_events_are_replayed_signed_and_one_still_retrying_holds_the_checkpoint()
{
    let scene = Scene::new(PADDLE_KEY).await;
    let (_ingress, ingress_url) = ingress(&scene, "paddle", PADDLE_SECRET).await;
    let account = Arc::new(Mutex::new(PaddleAccount::new(ingress_url)));
    let retrying_at;
    {
        let mut account = account.lock().expect("lock");
        account.limited_once = false; // the first listing is rate limited
        account.notify("ntf_5", "evt_failed", "failed", 5, PADDLE_DESTINATION);
        account.notify("ntf_4", "evt_delivered", "delivered", 6, PADDLE_DESTINATION);
        account.notify("ntf_3", "evt_present", "failed", 7, PADDLE_DESTINATION);
        account.notify(
            "ntf_2",
            "evt_retrying",
            "needs_retry",
            8,
            PADDLE_DESTINATION,
        );
        account.notify("ntf_1", "evt_gone", "failed", 9, PADDLE_DESTINATION);
        account.notify("ntf_0", "evt_elsewhere", "failed", 10, "ntfset_another");
        account.gone.push("ntf_1".to_owned());
        retrying_at = account
            .notifications
            .iter()
            .find(|n| n.id == "ntf_2")
            .map(|n| n.occurred_at.clone())
            .expect("ntf_2");
    }
    let outbox = scene.outbox().await;
    let present = shared::event::AcceptedEvent::new(
        SOURCE,
        "evt_present".to_owned(),
        None,
        bytes::Bytes::from_static(b"{}"),
        now_millis(),
    );
    outbox.insert_pending(&present).await.expect("PutItem");
    let base = Arc::new(Mutex::new(String::new()));
    let paddle = MockApi::start(paddle_handler(Arc::clone(&account), Arc::clone(&base))).await;
    *base.lock().expect("lock") = paddle.base.clone();
    let reconciler = scene
        .reconciler(&[
            ("RECONCILE_PROVIDER", "paddle"),
            ("RECONCILE_PADDLE_DESTINATION", PADDLE_DESTINATION),
            ("PADDLE_API_BASE", paddle.base.as_str()),
        ])
        .await;

    let now = now_millis();
    let report = run(&reconciler, now).await;
    assert_eq!(report.outcome, RunOutcome::Reconciled, "{report:?}");
    assert_eq!(
        (report.listed, report.missing),
        (4, 3),
        "the undelivered events of our destination; evt_present has a row: {report:?}"
    );
    assert_eq!(
        (report.recovered, report.unrecoverable, report.failed),
        (1, 1, 1),
        "{report:?}"
    );
    let failures = report.failures.join("\n");
    assert!(
        failures.contains("evt_gone") && failures.contains("not found"),
        "{failures}"
    );
    assert!(
        failures.contains("evt_retrying") && failures.contains("needs_retry"),
        "{failures}"
    );
    let held_at = backfill::github::rfc3339_to_millis(&retrying_at).expect("a time");
    assert_eq!(
        report.checkpoint_after,
        Some(held_at),
        "held at the event Paddle is still retrying"
    );
    assert_eq!(scene.checkpoint_at().await, Some(held_at));
    assert!(
        paddle
            .requests()
            .iter()
            .any(|r| r.contains("after=")
                && r.contains("notification_setting_id=ntfset_01backfilltest")),
        "followed meta.pagination.next: {:?}",
        paddle.requests()
    );
    assert_eq!(
        paddle.count("GET /notifications?"),
        paddle
            .requests()
            .iter()
            .filter(|r| r.starts_with("GET"))
            .count(),
    );
    let messages = scene.drain().await;
    assert_eq!(
        ids(&messages),
        ["evt_failed"],
        "event_id, as the ingress reads it"
    );
    assert_eq!(messages[0].attribute("delivered-by"), Some("ingress"));
    assert_eq!(
        messages[0].attribute("event-type"),
        Some("transaction.completed")
    );
    assert_eq!(
        body_marker(&messages[0], "notification_id"),
        "ntf_replay100",
        "the replay's own notification"
    );

    // Paddle gives up on evt_retrying: the next run replays it and the checkpoint moves on.
    account
        .lock()
        .expect("lock")
        .notifications
        .iter_mut()
        .filter(|n| n.id == "ntf_2")
        .for_each(|n| n.status = "failed".to_owned());
    let later = now + 600_000;
    let next = run(&reconciler, later).await;
    assert_eq!(
        (next.recovered, next.failed, next.unrecoverable),
        (1, 0, 1),
        "{next:?}"
    );
    assert_eq!(next.checkpoint_after, Some(later));
    assert_eq!(ids(&scene.drain().await), ["evt_retrying"]);
    assert_eq!(
        paddle.count("POST /notifications/ntf_5/replay"),
        1,
        "evt_failed once"
    );
}
