//! The AWS WAF backend against a wiremock server speaking the WAFv2 JSON protocol (awsJson1.1,
//! `X-Amz-Target: AWSWAF_20190729.<Action>`): what it does when UpdateIPSet meets a concurrent
//! writer, when that goes on, and when the set is full. The behaviours modelled are AWS's, as the
//! AWS WAF API reference documents them: UpdateIPSet replaces the whole address list and needs the
//! LockToken of the GetIPSet it builds on; a stale token gets WAFOptimisticLockException and
//! changes nothing; an IP set holds at most 10,000 addresses (AWS WAF quotas).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_wafv2::config::{Credentials, Region, SharedCredentialsProvider};
use serde_json::{Value, json};
use time::OffsetDateTime;
use waf::{AllowListBackend, AllowListError, BackendError, Cidr};
use waf_aws::{AwsBackend, IpSetRef, Retry};
use wiremock::matchers::{header, method};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const LOCK_MESSAGE: &str = "AWS WAF couldn’t save your changes because someone changed the \
                            resource after you started to edit it. Reapply your changes.";

fn session(server: &MockServer) -> aws_session::Session {
    let config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .endpoint_url(server.uri())
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "a", "b", None, None, "test",
        )))
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
        .build();
    aws_session::Session {
        config,
        region: "eu-west-1".into(),
        endpoint: Some(server.uri()),
    }
}

fn set(name: &str) -> IpSetRef {
    IpSetRef {
        name: name.into(),
        id: format!("{name}-id"),
        scope: "REGIONAL".into(),
    }
}

/// A backend on two sets without an entries table: the IP set's own list under its lock token.
fn backend(server: &MockServer, retry: Retry) -> AwsBackend {
    AwsBackend::new(&session(server), set("s4"), set("s6"), None)
        .unwrap()
        .with_retry(retry)
}

fn quick(attempts: u32) -> Retry {
    Retry {
        attempts,
        base: Duration::from_millis(1),
        cap: Duration::from_millis(5),
    }
}

fn target(action: &str) -> wiremock::MockBuilder {
    Mock::given(method("POST")).and(header(
        "x-amz-target",
        format!("AWSWAF_20190729.{action}").as_str(),
    ))
}

fn json_response(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("content-type", "application/x-amz-json-1.1")
        .set_body_string(body.to_string())
}

/// GetIPSet of the IPv4 set: `addresses`, and a lock token that changes with every read (as
/// if someone else wrote between two reads). The IPv6 set is empty.
struct IpSetReads {
    addresses: Vec<String>,
    reads: Arc<AtomicUsize>,
}

impl Respond for IpSetReads {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let asked: Value = serde_json::from_slice(&request.body).unwrap_or_default();
        if asked["Name"] == "s6" {
            // The IPv6 set is empty and never changes here.
            return json_response(
                200,
                json!({
                    "IPSet": {"Name": "s6", "Id": "s6-id", "IPAddressVersion": "IPV6", "Addresses": [],
                              "ARN": "arn:aws:wafv2:eu-west-1:123456789012:regional/ipset/s6/s6-id"},
                    "LockToken": "token-v6",
                }),
            );
        }
        let read = self.reads.fetch_add(1, Ordering::SeqCst);
        json_response(
            200,
            json!({
                "IPSet": {
                    "Name": "s4",
                    "Id": "s4-id",
                    "ARN": "arn:aws:wafv2:eu-west-1:123456789012:regional/ipset/s4/s4-id",
                    "Description": "",
                    "IPAddressVersion": "IPV4",
                    "Addresses": self.addresses,
                },
                "LockToken": format!("token-{read}"),
            }),
        )
    }
}

fn lock_conflict() -> ResponseTemplate {
    json_response(
        400,
        json!({"__type": "WAFOptimisticLockException", "Message": LOCK_MESSAGE}),
    )
}

/// The bodies of the UpdateIPSet calls received.
async fn updates(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| {
            r.headers
                .get("x-amz-target")
                .is_some_and(|t| t == "AWSWAF_20190729.UpdateIPSet")
        })
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

fn cidr(text: &str) -> Cidr {
    text.parse().unwrap()
}

#[tokio::test]
async fn a_stale_lock_token_is_read_again_and_the_change_reapplied() {
    let server = MockServer::start().await;
    let reads = Arc::new(AtomicUsize::new(0));
    target("GetIPSet")
        .respond_with(IpSetReads {
            addresses: vec!["192.0.2.1/32".into()],
            reads: reads.clone(),
        })
        .mount(&server)
        .await;
    // Someone else wrote between our read and our write, once.
    target("UpdateIPSet")
        .respond_with(lock_conflict())
        .up_to_n_times(1)
        .mount(&server)
        .await;
    target("UpdateIPSet")
        .respond_with(json_response(200, json!({"NextLockToken": "next"})))
        .mount(&server)
        .await;

    let allowed = backend(&server, quick(5))
        .allow(
            &[cidr("198.51.100.7")],
            Some(Duration::from_secs(3600)),
            None,
            OffsetDateTime::now_utc(),
        )
        .await
        .expect("the second attempt succeeds");
    assert_eq!(allowed.len(), 1);

    let updates = updates(&server).await;
    assert_eq!(updates.len(), 2, "one conflict, one success");
    // Each write carries the token of the read just before it, and the whole list: what was
    // there, and the new address.
    assert_eq!(updates[0]["LockToken"], "token-0");
    assert_eq!(updates[1]["LockToken"], "token-1");
    assert_eq!(
        updates[1]["Addresses"],
        json!(["192.0.2.1/32", "198.51.100.7/32"])
    );
    assert_eq!(reads.load(Ordering::SeqCst), 2, "a fresh read per attempt");
}

#[tokio::test]
async fn it_gives_up_after_its_bound_and_says_what_is_left() {
    let server = MockServer::start().await;
    target("GetIPSet")
        .respond_with(IpSetReads {
            addresses: vec![],
            reads: Arc::new(AtomicUsize::new(0)),
        })
        .mount(&server)
        .await;
    target("UpdateIPSet")
        .respond_with(lock_conflict())
        .expect(3)
        .mount(&server)
        .await;

    let error = backend(&server, quick(3))
        .allow(
            &[cidr("198.51.100.7")],
            None,
            None,
            OffsetDateTime::now_utc(),
        )
        .await
        .expect_err("others keep writing");
    let BackendError::Contended { set, attempts, .. } = &error else {
        panic!("expected Contended, got {error:?}");
    };
    assert_eq!((set.as_str(), *attempts), ("s4", 3));
    let message = error.to_string();
    assert!(
        message.contains("after 3 attempts")
            && message.contains("WAFOptimisticLockException")
            && message.contains("The IP set is as it was.")
            && message.contains("Run the same command again"),
        "{message}"
    );
}

#[tokio::test]
async fn a_full_set_is_refused_before_anything_is_written() {
    let server = MockServer::start().await;
    let full: Vec<String> = (0..waf::MAX_ENTRIES_PER_SET as u32)
        .map(|i| format!("{}/32", std::net::Ipv4Addr::from(0x0a00_0000 + i)))
        .collect();
    target("GetIPSet")
        .respond_with(IpSetReads {
            addresses: full,
            reads: Arc::new(AtomicUsize::new(0)),
        })
        .mount(&server)
        .await;
    target("UpdateIPSet")
        .respond_with(json_response(200, json!({"NextLockToken": "next"})))
        .expect(0)
        .mount(&server)
        .await;

    let error = backend(&server, quick(3))
        .allow(
            &[cidr("198.51.100.7")],
            None,
            None,
            OffsetDateTime::now_utc(),
        )
        .await
        .expect_err("the set is full");
    assert!(
        matches!(error, BackendError::AllowList(AllowListError::Full { .. })),
        "{error:?}"
    );
    assert!(error.to_string().contains("10000 entries"), "{error}");
}

#[tokio::test]
async fn without_a_table_every_address_is_unmanaged_and_revoke_by_name_removes_it() {
    let server = MockServer::start().await;
    target("GetIPSet")
        .respond_with(IpSetReads {
            addresses: vec!["192.0.2.1/32".into(), "192.0.2.2/32".into()],
            reads: Arc::new(AtomicUsize::new(0)),
        })
        .mount(&server)
        .await;
    target("UpdateIPSet")
        .respond_with(json_response(200, json!({"NextLockToken": "next"})))
        .mount(&server)
        .await;
    let backend = backend(&server, quick(3));

    let set = backend.read_set(waf::IpVersion::V4).await.unwrap();
    assert!(set.entries().is_empty());
    assert_eq!(set.unmanaged(), [cidr("192.0.2.1"), cidr("192.0.2.2")]);
    // Flushing expired entries leaves unmanaged addresses: nothing is written.
    assert!(
        backend
            .flush_expired(OffsetDateTime::now_utc())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(updates(&server).await.is_empty());
    // Named, one goes; the other stays.
    backend.revoke(&[cidr("192.0.2.1")]).await.unwrap();
    let updates = updates(&server).await;
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0]["Addresses"], json!(["192.0.2.2/32"]));
}
