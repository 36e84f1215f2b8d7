//! The states of a stack's CloudWatch alarms (OK, ALARM, INSUFFICIENT_DATA), for `status`.

use aws_sdk_cloudwatch::Client;

use crate::error::{DeployError, aws};

/// One alarm as CloudWatch holds it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmState {
    pub name: String,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub state: String,
    /// CloudWatch's words for the last change of state.
    pub reason: String,
    /// `YYYY-MM-DD HH:MM:SS UTC` of the last change of state.
    pub since: Option<String>,
}

/// DescribeAlarms takes at most 100 names a call.
const NAMES_PER_CALL: usize = 100;

/// The states of the alarms named `names`, in that order; an alarm CloudWatch does not know
/// (deleted by hand) is left out.
pub async fn alarm_states(
    client: &Client,
    names: &[String],
) -> Result<Vec<AlarmState>, DeployError> {
    let mut states = Vec::new();
    for batch in names.chunks(NAMES_PER_CALL) {
        let mut next = None;
        loop {
            let page = client
                .describe_alarms()
                .set_alarm_names(Some(batch.to_vec()))
                .set_next_token(next)
                .send()
                .await
                .map_err(aws("reading the stack's alarms from CloudWatch"))?;
            for alarm in page.metric_alarms() {
                states.push(AlarmState {
                    name: alarm.alarm_name().unwrap_or_default().to_owned(),
                    state: alarm
                        .state_value()
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default(),
                    reason: alarm.state_reason().unwrap_or_default().to_owned(),
                    since: alarm
                        .state_updated_timestamp()
                        .and_then(crate::summary::format_time),
                });
            }
            next = page.next_token().map(str::to_owned);
            if next.is_none() {
                break;
            }
        }
    }
    states.sort_by_key(|s| names.iter().position(|n| *n == s.name));
    Ok(states)
}
