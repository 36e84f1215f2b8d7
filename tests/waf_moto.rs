//! The allow-list in AWS WAF end to end, against moto's server (which enforces WAFv2 lock tokens
//! as AWS does, and DynamoDB's conditions): concurrent writers all land, expired entries leave
//! after a janitor run while fresh ones stay, an address added outside the tool survives every
//! flush but the explicit one, and a change a crashed command left half done is completed.

use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use aws_sdk_wafv2::types::{IpAddressVersion, Scope};
use e2e::moto::Moto;
use time::OffsetDateTime;
use waf::{AllowListBackend, Cidr, IpVersion};
use waf_aws::{AwsBackend, IpSetRef};

const REGION: &str = "eu-west-1";
const HOUR: Duration = Duration::from_secs(3600);

/// Two empty IP sets and, when `table`, an entries table, as the stack makes them.
struct AllowList {
    session: aws_session::Session,
    v4: IpSetRef,
    v6: IpSetRef,
    table: Option<String>,
}

impl AllowList {
    async fn create(moto: &Moto, table: bool) -> AllowList {
        let session = moto.session(REGION);
        let wafv2 = aws_sdk_wafv2::Client::new(&session.config);
        let mut sets = Vec::new();
        for (name, version) in [
            ("allow-v4", IpAddressVersion::Ipv4),
            ("allow-v6", IpAddressVersion::Ipv6),
        ] {
            let created = wafv2
                .create_ip_set()
                .name(name)
                .scope(Scope::Regional)
                .ip_address_version(version)
                .set_addresses(Some(Vec::new()))
                .send()
                .await
                .unwrap();
            let summary = created.summary().unwrap();
            sets.push(IpSetRef::from_arn(summary.arn().unwrap()).unwrap());
        }
        let table = if table {
            let dynamodb = aws_sdk_dynamodb::Client::new(&session.config);
            dynamodb
                .create_table()
                .table_name("allow-list")
                .billing_mode(BillingMode::PayPerRequest)
                .attribute_definitions(
                    AttributeDefinition::builder()
                        .attribute_name("cidr")
                        .attribute_type(ScalarAttributeType::S)
                        .build()
                        .unwrap(),
                )
                .key_schema(
                    KeySchemaElement::builder()
                        .attribute_name("cidr")
                        .key_type(KeyType::Hash)
                        .build()
                        .unwrap(),
                )
                .send()
                .await
                .unwrap();
            Some("allow-list".to_owned())
        } else {
            None
        };
        let [v4, v6] = <[IpSetRef; 2]>::try_from(sets).unwrap();
        AllowList {
            session,
            v4,
            v6,
            table,
        }
    }

    /// A backend as one `cargo xtask ip` run makes it: its own clients, its own caller.
    fn backend(&self, caller: &str) -> AwsBackend {
        AwsBackend::new(
            &self.session,
            self.v4.clone(),
            self.v6.clone(),
            self.table.clone(),
        )
        .unwrap()
        .with_caller(caller)
    }

    /// GetIPSet of the IPv4 set.
    async fn get_v4(&self) -> aws_sdk_wafv2::operation::get_ip_set::GetIpSetOutput {
        aws_sdk_wafv2::Client::new(&self.session.config)
            .get_ip_set()
            .name(&self.v4.name)
            .id(&self.v4.id)
            .scope(Scope::Regional)
            .send()
            .await
            .unwrap()
    }

    /// The IPv4 set's addresses, as AWS WAF has them.
    async fn addresses(&self) -> Vec<String> {
        let mut addresses = self.get_v4().await.ip_set().unwrap().addresses().to_vec();
        addresses.sort();
        addresses
    }

    /// Adds an address the way the console does: straight into the IP set.
    async fn add_in_console(&self, address: &str) {
        let wafv2 = aws_sdk_wafv2::Client::new(&self.session.config);
        let got = self.get_v4().await;
        let mut addresses = got.ip_set().unwrap().addresses().to_vec();
        addresses.push(address.to_owned());
        wafv2
            .update_ip_set()
            .name(&self.v4.name)
            .id(&self.v4.id)
            .scope(Scope::Regional)
            .lock_token(got.lock_token().unwrap())
            .set_addresses(Some(addresses))
            .send()
            .await
            .unwrap();
    }
}

fn cidr(text: &str) -> Cidr {
    text.parse().unwrap()
}

/// Ten writers at once, each its own read-modify-write of the same IP set: with the lock-token
/// retries none is lost. (Take the retry out, `Retry::NEVER`, and some of them fail with
/// WAFOptimisticLockException, so not all ten are there.)
async fn ten_concurrent_allows_all_land(table: bool) {
    let moto = Moto::start().await;
    let list = AllowList::create(&moto, table).await;
    let mut writers = Vec::new();
    for i in 1..=10 {
        let backend = list.backend(&format!("writer-{i}"));
        writers.push(tokio::spawn(async move {
            let address = cidr(&format!("198.51.100.{i}"));
            backend
                .allow(
                    &[address],
                    Some(HOUR),
                    Some("demo"),
                    OffsetDateTime::now_utc(),
                )
                .await
                .map(|_| ())
        }));
    }
    for writer in writers {
        writer.await.unwrap().expect("every allow succeeds");
    }
    let expected: Vec<String> = {
        let mut all: Vec<String> = (1..=10).map(|i| format!("198.51.100.{i}/32")).collect();
        all.sort();
        all
    };
    assert_eq!(list.addresses().await, expected);
    let listed = list.backend("reader").list().await.unwrap();
    if table {
        assert_eq!(listed.entries().count(), 10);
        assert!(listed.entries().all(|e| {
            e.note.as_deref() == Some("demo")
                && e.added_by
                    .as_deref()
                    .is_some_and(|by| by.starts_with("writer-"))
        }));
    } else {
        // Without a table the addresses are all the IP set keeps.
        assert_eq!(listed.unmanaged().count(), 10);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_concurrent_allows_all_land_with_the_entries_table() {
    ten_concurrent_allows_all_land(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_concurrent_allows_all_land_in_sets_without_a_table() {
    ten_concurrent_allows_all_land(false).await;
}

#[tokio::test]
async fn the_janitor_removes_expired_entries_and_keeps_fresh_and_unmanaged_ones() {
    let moto = Moto::start().await;
    let list = AllowList::create(&moto, true).await;
    let backend = list.backend("alice");
    let now = OffsetDateTime::now_utc();
    backend
        .allow(
            &[cidr("198.51.100.1")],
            Some(Duration::from_secs(1)),
            None,
            now,
        )
        .await
        .unwrap();
    backend
        .allow(&[cidr("198.51.100.2")], Some(HOUR), None, now)
        .await
        .unwrap();
    list.add_in_console("192.0.2.99/32").await;
    let before = list.addresses().await;
    assert!(
        before.contains(&"192.0.2.99/32".to_owned())
            && before.contains(&"198.51.100.2/32".to_owned()),
        "{before:?}"
    );
    // (198.51.100.1 may have left the set already: any sync after its expiry, such as the second
    // allow's on a slow machine, leaves it out. Its entry stays until the janitor flushes it.)
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let flushed = waf::janitor(&list.backend("janitor"), OffsetDateTime::now_utc())
        .await
        .unwrap();
    let flushed: Vec<Cidr> = flushed.iter().map(|e| e.cidr).collect();
    assert_eq!(flushed, [cidr("198.51.100.1")]);
    assert_eq!(list.addresses().await, ["192.0.2.99/32", "198.51.100.2/32"]);
    let listed = backend.list().await.unwrap();
    assert_eq!(
        listed.entries().map(|e| e.cidr).collect::<Vec<_>>(),
        [cidr("198.51.100.2")]
    );
    assert_eq!(
        listed.unmanaged().copied().collect::<Vec<_>>(),
        [cidr("192.0.2.99")]
    );

    // Only the explicit flush takes the unmanaged address away.
    assert_eq!(
        backend.flush_unmanaged().await.unwrap(),
        [cidr("192.0.2.99")]
    );
    assert_eq!(list.addresses().await, ["198.51.100.2/32"]);
}

#[tokio::test]
async fn the_janitor_completes_an_allow_that_stopped_half_way() {
    // A command that recorded its entry and crashed before it updated the IP set: the entry is
    // in the table, the address is not in the set.
    let moto = Moto::start().await;
    let list = AllowList::create(&moto, true).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&list.session.config);
    let in_an_hour = OffsetDateTime::now_utc() + time::Duration::hours(1);
    let rfc3339 = |t: OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    dynamodb
        .put_item()
        .table_name("allow-list")
        .item("cidr", AttributeValue::S("198.51.100.42/32".into()))
        .item(
            "version",
            AttributeValue::S(IpVersion::V4.aws_name().into()),
        )
        .item("state", AttributeValue::S("active".into()))
        .item(
            "added_at",
            AttributeValue::S(rfc3339(OffsetDateTime::now_utc())),
        )
        .item("expires_at", AttributeValue::S(rfc3339(in_an_hour)))
        .send()
        .await
        .unwrap();
    assert!(list.addresses().await.is_empty());

    waf::janitor(&list.backend("janitor"), OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(list.addresses().await, ["198.51.100.42/32"]);
}
