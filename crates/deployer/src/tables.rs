//! A DynamoDB table made outside CloudFormation from a template's table definition: for the local
//! stack on DynamoDB (in moto) and for tests, so that the key schema lives once, in the template.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_session::Session;
use serde_json::Value;

use crate::DeployError;

/// Whether [`create_table_like`] made the table or found it there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableOutcome {
    Created,
    /// A table of that name was there already: its items were kept.
    Existing,
}

fn definition_error(logical_id: &str, what: &str) -> DeployError {
    DeployError::Aws {
        action: format!("reading the template's {logical_id}"),
        message: what.to_owned(),
    }
}

/// Creates the table `name` with the keys and billing of the template's `logical_id` table,
/// unless a table of that name exists (then nothing changes: its data is kept). Returns once the
/// table is ACTIVE.
pub async fn create_table_like(
    session: &Session,
    template: &Value,
    logical_id: &str,
    name: &str,
) -> Result<TableOutcome, DeployError> {
    let properties = &template["Resources"][logical_id]["Properties"];
    let field = |entry: &Value, key: &str| -> Result<String, DeployError> {
        entry[key]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| definition_error(logical_id, &format!("an entry lacks {key}")))
    };
    let client = aws_sdk_dynamodb::Client::new(&session.config);
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::from(
            properties["BillingMode"]
                .as_str()
                .unwrap_or("PAY_PER_REQUEST"),
        ));
    let keys = properties["KeySchema"]
        .as_array()
        .ok_or_else(|| definition_error(logical_id, "no KeySchema"))?;
    for key in keys {
        request = request.key_schema(
            KeySchemaElement::builder()
                .attribute_name(field(key, "AttributeName")?)
                .key_type(KeyType::from(field(key, "KeyType")?.as_str()))
                .build()
                .expect("name and key type are set"),
        );
    }
    let attributes = properties["AttributeDefinitions"]
        .as_array()
        .ok_or_else(|| definition_error(logical_id, "no AttributeDefinitions"))?;
    for attribute in attributes {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(field(attribute, "AttributeName")?)
                .attribute_type(ScalarAttributeType::from(
                    field(attribute, "AttributeType")?.as_str(),
                ))
                .build()
                .expect("name and type are set"),
        );
    }
    let outcome = match request.send().await {
        Ok(_) => TableOutcome::Created,
        Err(error) if aws_session::error_code(&error) == Some("ResourceInUseException") => {
            TableOutcome::Existing
        }
        Err(error) => {
            return Err(DeployError::Aws {
                action: format!("dynamodb:CreateTable {name}"),
                message: aws_session::explain(&error),
            });
        }
    };
    // A new table takes seconds to become ACTIVE in AWS; until then it refuses item requests.
    for _ in 0..120 {
        let table = client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|error| DeployError::Aws {
                action: format!("dynamodb:DescribeTable {name}"),
                message: aws_session::explain(&error),
            })?;
        if table
            .table()
            .and_then(|t| t.table_status())
            .is_some_and(|s| s.as_str() == "ACTIVE")
        {
            return Ok(outcome);
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    Err(DeployError::Aws {
        action: format!("waiting for table {name}"),
        message: "it did not become ACTIVE within a minute".into(),
    })
}
