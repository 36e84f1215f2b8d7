"""CloudFormation model for AWS::CloudWatch::Alarm.

Test-harness extension of moto, not AWS behaviour. moto 5.2.5 emulates the
CloudWatch API and has a CloudFormation model for dashboards, but none for
alarms, so a template's alarms are skipped with a warning and the stack lists
them with no physical id. This model puts each alarm into moto's own
CloudWatch backend (PutMetricAlarm), named as CloudFormation names an alarm
without AlarmName (<stack>-<logical id>-<random suffix>), so that the stack
and the backend both hold it. Metric-math alarms (Metrics) keep their queries.
Any property change replaces the alarm: simpler than AWS, which updates most
properties in place, and invisible to the tests, which only create and delete.
"""

from typing import Any

from moto.cloudwatch.models import (
    CloudWatchBackend,
    Dimension,
    Metric,
    MetricDataQuery,
    MetricStat,
    cloudwatch_backends,
)
from moto.core.common_models import CloudFormationModel


def metric_data_queries(metrics: list[dict[str, Any]] | None) -> list[MetricDataQuery] | None:
    if not metrics:
        return None
    queries = []
    for query in metrics:
        stat = query.get("MetricStat")
        metric_stat = None
        if stat:
            metric = stat["Metric"]
            metric_stat = MetricStat(
                metric=Metric(
                    metric_name=metric.get("MetricName"),
                    namespace=metric.get("Namespace"),
                    dimensions=[
                        Dimension(d["Name"], d["Value"]) for d in metric.get("Dimensions", [])
                    ],
                ),
                period=str(stat.get("Period")),
                stat=stat.get("Stat"),
                unit=stat.get("Unit"),
            )
        queries.append(
            MetricDataQuery(
                query_id=query["Id"],
                label=query.get("Label", ""),
                period=str(query.get("Period", "")),
                return_data=str(query.get("ReturnData", True)).lower(),
                expression=query.get("Expression"),
                metric_stat=metric_stat,
            )
        )
    return queries


class CloudWatchAlarmCfn(CloudFormationModel):
    """One AWS::CloudWatch::Alarm; the alarm itself lives in moto's CloudWatch backend."""

    def __init__(self, alarm: Any):
        self.alarm = alarm  # moto.cloudwatch.models.Alarm

    @staticmethod
    def cloudformation_name_type() -> str:
        return "AlarmName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::Alarm"

    @property
    def physical_resource_id(self) -> str:
        return self.alarm.name  # Ref gives the alarm's name

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        return self.alarm.alarm_arn

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> "CloudWatchAlarmCfn":
        backend: CloudWatchBackend = cloudwatch_backends[account_id][region_name]
        p = cloudformation_json["Properties"]
        alarm = backend.put_metric_alarm(
            name=p.get("AlarmName") or resource_name,
            namespace=p.get("Namespace"),
            metric_name=p.get("MetricName"),
            comparison_operator=p["ComparisonOperator"],
            evaluation_periods=int(p["EvaluationPeriods"]),
            period=p.get("Period"),
            threshold=float(p["Threshold"]),
            statistic=p.get("Statistic"),
            description=p.get("AlarmDescription", ""),
            dimensions=p.get("Dimensions", []),
            alarm_actions=p.get("AlarmActions", []),
            metric_data_queries=metric_data_queries(p.get("Metrics")),
            extended_statistic=p.get("ExtendedStatistic"),
            ok_actions=p.get("OKActions", []),
            insufficient_data_actions=p.get("InsufficientDataActions", []),
            treat_missing_data=p.get("TreatMissingData"),
        )
        return cls(alarm)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> "CloudWatchAlarmCfn":
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name
        )

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> None:
        cloudwatch_backends[account_id][region_name].delete_alarms([resource_name])

    def delete(self, account_id: str, region_name: str) -> None:
        cloudwatch_backends[account_id][region_name].delete_alarms([self.alarm.name])
