//! The artifact bucket: one per account and region, created when missing (versioned, every kind
//! of public access blocked, encrypted by default), holding packages and templates under their
//! content hash, so an unchanged package is never uploaded twice and a deploy can be repeated.

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, VersioningConfiguration,
};

use crate::error::{DeployError, aws};
use crate::progress::Progress;

/// `catalog-artifacts-<account>-<region>`: unique per account and region, as bucket names must
/// be global, and at most 63 characters for every region name AWS uses.
pub fn artifact_bucket_name(account: &str, region: &str) -> String {
    format!("catalog-artifacts-{account}-{region}")
}

/// `packages/<function>/<sha256>.zip`: a package's place in the bucket, named by its content.
pub fn package_key(function: &str, sha256: &str) -> String {
    format!("packages/{function}/{sha256}.zip")
}

/// `templates/<stack>/<sha256>.json`.
pub fn template_key(stack: &str, sha256: &str) -> String {
    format!("templates/{stack}/{sha256}.json")
}

/// Makes sure the bucket exists with its settings. When a previous run created it but stopped
/// before the settings (versioning is the last one applied), they are applied again.
pub async fn ensure_bucket(
    s3: &Client,
    bucket: &str,
    region: &str,
    progress: &mut dyn Progress,
) -> Result<(), DeployError> {
    match s3.head_bucket().bucket(bucket).send().await {
        Ok(_) => {
            let versioning = s3
                .get_bucket_versioning()
                .bucket(bucket)
                .send()
                .await
                .map_err(aws(format!("reading the versioning of bucket {bucket}")))?;
            if versioning.status() == Some(&BucketVersioningStatus::Enabled) {
                progress.note(&format!("artifact bucket {bucket}"));
                return Ok(());
            }
            progress.note(&format!(
                "artifact bucket {bucket} exists without its settings (an earlier run stopped); applying them"
            ));
        }
        Err(error) => {
            let status = error.raw_response().map(|r| r.status().as_u16());
            match status {
                Some(404) => {}
                Some(403) => {
                    return Err(DeployError::BucketNotOurs {
                        bucket: bucket.to_owned(),
                        hint: "if it is yours, check that these credentials may use it (s3:ListBucket)",
                    });
                }
                _ => {
                    return Err(aws(format!("looking for bucket {bucket}"))(error));
                }
            }
            progress.step(&format!("creating the artifact bucket {bucket}"));
            let mut create = s3.create_bucket().bucket(bucket);
            // us-east-1 is the one region that takes no location constraint.
            if region != "us-east-1" {
                create = create.create_bucket_configuration(
                    CreateBucketConfiguration::builder()
                        .location_constraint(BucketLocationConstraint::from(region))
                        .build(),
                );
            }
            create
                .send()
                .await
                .map_err(aws(format!("creating bucket {bucket}")))?;
        }
    }
    s3.put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .map_err(aws(format!("blocking public access to bucket {bucket}")))?;
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(
            ServerSideEncryptionByDefault::builder()
                .sse_algorithm(ServerSideEncryption::Aes256)
                .build()
                .expect("the algorithm is set"),
        )
        .build();
    s3.put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(rule)
                .build()
                .expect("a rule is set"),
        )
        .send()
        .await
        .map_err(aws(format!(
            "setting default encryption on bucket {bucket}"
        )))?;
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .map_err(aws(format!("enabling versioning on bucket {bucket}")))?;
    progress.note(&format!(
        "bucket {bucket}: versioned, public access blocked, encrypted (SSE-S3)"
    ));
    Ok(())
}

/// Whether an object is there (`HeadObject`: 404 means absent).
async fn exists(s3: &Client, bucket: &str, key: &str) -> Result<bool, DeployError> {
    match s3.head_object().bucket(bucket).key(key).send().await {
        Ok(_) => Ok(true),
        Err(error) if error.raw_response().map(|r| r.status().as_u16()) == Some(404) => Ok(false),
        Err(error) => Err(aws(format!("looking for s3://{bucket}/{key}"))(error)),
    }
}

/// Uploads `body` to `key` unless an object is already there; says whether it uploaded.
/// Keys are content hashes, so an object under the key is this very content.
pub async fn upload_if_absent(
    s3: &Client,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
    content_type: &str,
) -> Result<bool, DeployError> {
    if exists(s3, bucket, key).await? {
        return Ok(false);
    }
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .content_type(content_type)
        .body(ByteStream::from(body))
        .send()
        .await
        .map_err(aws(format!("uploading s3://{bucket}/{key}")))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_s3_rules() {
        let longest = artifact_bucket_name("123456789012", "ap-southeast-2");
        assert!(longest.len() <= 63, "{longest}");
        assert!(
            longest
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        );
        assert_eq!(
            package_key("lith", "ab12"),
            "packages/lith/ab12.zip".to_owned()
        );
    }
}
