//! A function's log settings, Lambda's `LoggingConfig`: the format Lambda writes its own records
//! in (and expects of the function), and, in JSON, the levels below which records are dropped.
//!
//! Rendered into the template and read back from it, so the local stack logs what the template
//! declares.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;
use serde_json::{Value, json};

/// `LoggingConfig.LogFormat`. Lambda's default, when the property is absent, is `Text`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl LogFormat {
    /// As CloudFormation and `AWS_LAMBDA_LOG_FORMAT` spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "Text",
            LogFormat::Json => "JSON",
        }
    }
}

/// A log level, least severe first, so `a < b` reads "a is more detailed than b".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

impl LogLevel {
    /// The levels `SystemLogLevel` may take; `ApplicationLogLevel` may take any.
    pub const SYSTEM: [LogLevel; 3] = [LogLevel::Debug, LogLevel::Info, LogLevel::Warn];

    /// As Lambda spells it (`ApplicationLogLevel`, `AWS_LAMBDA_LOG_LEVEL`).
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "TRACE",
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warn => "WARN",
            LogLevel::Error => "ERROR",
            LogLevel::Fatal => "FATAL",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a log level: use one of trace, debug, info, warn, error, fatal")]
pub struct UnknownLogLevel(pub String);

impl FromStr for LogLevel {
    type Err = UnknownLogLevel;

    /// Any case: `info`, `INFO`, `Info`. `WARNING` is read as WARN, as Lambda reads a
    /// function's JSON records.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_uppercase().as_str() {
            "TRACE" => Ok(LogLevel::Trace),
            "DEBUG" => Ok(LogLevel::Debug),
            "INFO" => Ok(LogLevel::Info),
            "WARN" | "WARNING" => Ok(LogLevel::Warn),
            "ERROR" => Ok(LogLevel::Error),
            "FATAL" | "CRITICAL" => Ok(LogLevel::Fatal),
            _ => Err(UnknownLogLevel(text.to_owned())),
        }
    }
}

impl TryFrom<String> for LogLevel {
    type Error = UnknownLogLevel;

    fn try_from(text: String) -> Result<Self, UnknownLogLevel> {
        text.parse()
    }
}

/// What a function's `LoggingConfig` says, with Lambda's defaults filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunctionLogging {
    pub format: LogFormat,
    /// Records the function writes below this level are dropped (JSON only).
    pub application_level: LogLevel,
    /// Lambda's own records below this level are dropped (JSON only).
    pub system_level: LogLevel,
}

impl Default for FunctionLogging {
    /// No `LoggingConfig`: text, nothing filtered.
    fn default() -> Self {
        Self::text()
    }
}

impl FunctionLogging {
    /// `LogFormat: Text`, where levels do not apply: everything is kept.
    pub fn text() -> Self {
        Self {
            format: LogFormat::Text,
            application_level: LogLevel::Trace,
            system_level: LogLevel::Trace,
        }
    }

    /// `LogFormat: JSON` with the given application level; Lambda's system records at INFO,
    /// which keeps the platform report that cold-start measurements read.
    pub fn json(application_level: LogLevel) -> Self {
        Self {
            format: LogFormat::Json,
            application_level,
            system_level: LogLevel::Info,
        }
    }

    /// The `LoggingConfig` property, with the function's log group.
    pub fn to_property(&self, log_group: Value) -> Value {
        match self.format {
            LogFormat::Text => json!({"LogFormat": "Text", "LogGroup": log_group}),
            LogFormat::Json => json!({
                "LogFormat": "JSON",
                "ApplicationLogLevel": self.application_level.as_str(),
                "SystemLogLevel": self.system_level.as_str(),
                "LogGroup": log_group,
            }),
        }
    }

    /// Reads a `LoggingConfig` property (absent: Lambda's defaults). Lambda takes levels only
    /// with JSON, defaults both to INFO there, and takes DEBUG, INFO or WARN as a system level.
    pub fn from_property(property: Option<&Value>) -> Result<Self, String> {
        let Some(property) = property else {
            return Ok(Self::default());
        };
        let field = |key: &str| property.get(key).and_then(Value::as_str);
        let level = |key: &str| {
            field(key)
                .map(|text| text.parse::<LogLevel>().map_err(|e| format!("{key}: {e}")))
                .transpose()
        };
        let format = match field("LogFormat") {
            None | Some("Text") => LogFormat::Text,
            Some("JSON") => LogFormat::Json,
            Some(other) => return Err(format!("LogFormat {other:?} is neither Text nor JSON")),
        };
        let (application, system) = (level("ApplicationLogLevel")?, level("SystemLogLevel")?);
        match format {
            LogFormat::Text if application.is_some() || system.is_some() => {
                Err("log levels apply only with LogFormat JSON".to_owned())
            }
            LogFormat::Text => Ok(Self::text()),
            LogFormat::Json => {
                let system_level = system.unwrap_or(LogLevel::Info);
                if !LogLevel::SYSTEM.contains(&system_level) {
                    return Err(format!(
                        "SystemLogLevel {system_level} is not one of DEBUG, INFO, WARN"
                    ));
                }
                Ok(Self {
                    format,
                    application_level: application.unwrap_or(LogLevel::Info),
                    system_level,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rendered_property_reads_back_as_itself() {
        for logging in [
            FunctionLogging::text(),
            FunctionLogging::json(LogLevel::Debug),
            FunctionLogging::json(LogLevel::Error),
        ] {
            let property = logging.to_property(json!("/aws/lambda/f"));
            assert_eq!(FunctionLogging::from_property(Some(&property)), Ok(logging));
        }
    }

    #[test]
    fn lambda_defaults_fill_what_the_property_leaves_out() {
        assert_eq!(
            FunctionLogging::from_property(None),
            Ok(FunctionLogging::text())
        );
        assert_eq!(
            FunctionLogging::from_property(Some(&json!({"LogFormat": "JSON"}))),
            Ok(FunctionLogging::json(LogLevel::Info))
        );
    }

    #[test]
    fn settings_lambda_refuses_are_refused() {
        for (property, says) in [
            (
                json!({"LogFormat": "Text", "ApplicationLogLevel": "INFO"}),
                "only with LogFormat JSON",
            ),
            (
                json!({"LogFormat": "JSON", "SystemLogLevel": "ERROR"}),
                "not one of DEBUG, INFO, WARN",
            ),
            (
                json!({"LogFormat": "JSON", "ApplicationLogLevel": "LOUD"}),
                "not a log level",
            ),
            (json!({"LogFormat": "XML"}), "neither Text nor JSON"),
        ] {
            let error = FunctionLogging::from_property(Some(&property)).unwrap_err();
            assert!(error.contains(says), "{property}: {error}");
        }
    }

    #[test]
    fn levels_read_in_any_case_and_order_by_detail() {
        assert_eq!("info".parse(), Ok(LogLevel::Info));
        assert_eq!("Warning".parse(), Ok(LogLevel::Warn));
        assert!(LogLevel::Debug < LogLevel::Info && LogLevel::Info < LogLevel::Fatal);
    }
}
