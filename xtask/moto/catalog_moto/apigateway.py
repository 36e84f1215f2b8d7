"""CloudFormation models for AWS::ApiGateway::Authorizer, Stage and Account, and fixes to moto's own.

Test-harness extension of moto, not AWS behaviour. moto 5.2.5 emulates the
API Gateway API but has no CloudFormation models for Authorizer and Stage, so
a template using them fails. The two models below create, update and delete
them through moto's own API Gateway backend, so that after a deploy the
ordinary SDK calls (GetAuthorizers, GetStages, GetStage) see them. A third,
Account, sets the account-level CloudWatch Logs role through moto's own
UpdateAccount, so that GetAccount shows it (the deployer checks it before a
stage with access logs is deployed).

moto's existing models for Method, Resource, Deployment and RestApi also miss
what our templates need; the patches at the end of this module add it:
- Method: AuthorizerId (and AuthorizationScopes) were ignored on create;
  Method, Resource, Deployment and RestApi had no update and no delete, so an
  update left None in the stack (breaking every Ref to them) and a delete or
  a removal on update left them behind in the API;
- Deployment: Ref gave the Python object instead of the deployment id.

Which property changes replace a resource and which update it in place follows
the createOnlyProperties of each type's CloudFormation registry schema (the
same schemas cfn-lint ships).
"""

from typing import Any

from moto.apigateway.exceptions import RestAPINotFound, StageNotFoundException
from moto.apigateway.models import (
    APIGatewayBackend,
    Deployment,
    Method,
    Resource,
    RestAPI,
    apigateway_backends,
)
from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
from moto.core.common_models import CloudFormationModel


def api_backend(account_id: str, region_name: str) -> APIGatewayBackend:
    return apigateway_backends[account_id][region_name]


def changed(old: dict[str, Any], new: dict[str, Any], names: list[str]) -> bool:
    return any(old.get(name) != new.get(name) for name in names)


def tags_dict(tags: list[dict[str, str]] | None) -> dict[str, str]:
    # Templates list tags as [{Key, Value}]; moto's stage keeps a dict.
    return {tag["Key"]: tag["Value"] for tag in tags or []}


class ApiGatewayAuthorizerCfn(CloudFormationModel):
    """One AWS::ApiGateway::Authorizer; the authorizer lives in moto's API Gateway backend.

    Ref and GetAtt AuthorizerId are the authorizer id, as on AWS.
    """

    def __init__(self, rest_api_id: str, properties: dict[str, Any], authorizer: Any):
        self.rest_api_id = rest_api_id
        self.properties = properties
        self.authorizer = authorizer  # moto.apigateway.models.Authorizer

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApiGateway::Authorizer"

    @property
    def physical_resource_id(self) -> str:
        return self.authorizer.id

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "AuthorizerId"

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name == "AuthorizerId":
            return self.authorizer.id
        raise UnformattedGetAttTemplateException()

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> "ApiGatewayAuthorizerCfn":
        props = cloudformation_json["Properties"]
        authorizer = api_backend(account_id, region_name).create_authorizer(
            restapi_id=props["RestApiId"],
            name=props.get("Name") or resource_name,
            authorizer_type=props["Type"],
            provider_arns=props.get("ProviderARNs"),
            auth_type=props.get("AuthType"),
            authorizer_uri=props.get("AuthorizerUri"),
            authorizer_credentials=props.get("AuthorizerCredentials"),
            identity_source=props.get("IdentitySource"),
            # sic: moto spells this keyword "identiy"
            identiy_validation_expression=props.get("IdentityValidationExpression"),
            authorizer_result_ttl=props.get("AuthorizerResultTtlInSeconds"),
        )
        return cls(props["RestApiId"], props, authorizer)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: "ApiGatewayAuthorizerCfn",
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> "ApiGatewayAuthorizerCfn":
        props = cloudformation_json["Properties"]
        if changed(original_resource.properties, props, ["RestApiId"]):
            # Replacement: create in the new API, then delete the old one.
            new = cls.create_from_cloudformation_json(
                new_resource_name, cloudformation_json, account_id, region_name
            )
            original_resource.delete(account_id, region_name)
            return new

        # In place: same authorizer id, new settings.
        authorizer = original_resource.authorizer
        authorizer.name = props.get("Name") or new_resource_name
        authorizer.type = props["Type"]
        authorizer.provider_arns = props.get("ProviderARNs")
        authorizer.auth_type = props.get("AuthType")
        authorizer.authorizer_uri = props.get("AuthorizerUri")
        authorizer.authorizer_credentials = props.get("AuthorizerCredentials")
        authorizer.identity_source = props.get("IdentitySource")
        authorizer.identity_validation_expression = props.get("IdentityValidationExpression")
        authorizer.authorizer_result_ttl = props.get("AuthorizerResultTtlInSeconds")
        original_resource.properties = props
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        try:
            api_backend(account_id, region_name).delete_authorizer(self.rest_api_id, self.authorizer.id)
        except (RestAPINotFound, KeyError):
            pass  # the API or the authorizer is already gone: deleting is done


class ApiGatewayStageCfn(CloudFormationModel):
    """One AWS::ApiGateway::Stage; the stage lives in moto's API Gateway backend.

    Ref is the stage name, as on AWS; the type has no GetAtt attributes.
    """

    def __init__(self, rest_api_id: str, stage_name: str, properties: dict[str, Any]):
        self.rest_api_id = rest_api_id
        self.stage_name = stage_name
        self.properties = properties

    @staticmethod
    def cloudformation_name_type() -> str:
        return "StageName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApiGateway::Stage"

    @property
    def physical_resource_id(self) -> str:
        return self.stage_name

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return False

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> "ApiGatewayStageCfn":
        props = cloudformation_json["Properties"]
        stage = api_backend(account_id, region_name).create_stage(
            function_id=props["RestApiId"],
            stage_name=resource_name,
            deploymentId=props.get("DeploymentId"),
            variables=props.get("Variables"),
            description=props.get("Description", ""),
            tags=tags_dict(props.get("Tags")),
            tracing_enabled=props.get("TracingEnabled"),
        )
        set_access_log_and_method_settings(stage, props)
        return cls(props["RestApiId"], resource_name, props)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: "ApiGatewayStageCfn",
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> "ApiGatewayStageCfn":
        props = cloudformation_json["Properties"]
        if changed(original_resource.properties, props, ["RestApiId", "StageName"]):
            # Replacement: create the new stage, then delete the old one.
            new = cls.create_from_cloudformation_json(
                new_resource_name, cloudformation_json, account_id, region_name
            )
            original_resource.delete(account_id, region_name)
            return new

        # In place, e.g. pointing the stage at a new deployment.
        stage = api_backend(account_id, region_name).get_stage(
            original_resource.rest_api_id, original_resource.stage_name
        )
        stage.deployment_id = props.get("DeploymentId")
        stage.description = props.get("Description", "")
        stage.variables = props.get("Variables") or {}
        stage.tags = tags_dict(props.get("Tags"))
        stage.tracing_enabled = props.get("TracingEnabled")
        set_access_log_and_method_settings(stage, props)
        original_resource.properties = props
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        try:
            api_backend(account_id, region_name).delete_stage(self.rest_api_id, self.stage_name)
        except (RestAPINotFound, StageNotFoundException):
            pass  # the API or the stage is already gone: deleting is done


def set_access_log_and_method_settings(stage: Any, props: dict[str, Any]) -> None:
    """Copy AccessLogSetting and MethodSettings onto moto's stage (create_stage takes neither)."""
    access_log = props.get("AccessLogSetting")
    if access_log:
        # GetStage's accessLogSettings shape
        stage.access_log_settings = {
            "destinationArn": access_log.get("DestinationArn"),
            "format": access_log.get("Format"),
        }
    else:
        stage.access_log_settings = None

    # GetStage keys methodSettings by "<resource path without its leading slash>/<HTTP method>",
    # e.g. "*/*"; the setting names are the template's with a lower-case first letter.
    stage.method_settings = {}
    for setting in props.get("MethodSettings") or []:
        key = setting.get("ResourcePath", "/*")[1:] + "/" + setting.get("HttpMethod", "*")
        values = stage._get_default_method_settings()
        for name, value in setting.items():
            if name not in ("ResourcePath", "HttpMethod"):
                values[name[0].lower() + name[1:]] = value
        stage.method_settings[key] = values


# ---------------------------------------------------------------------------
# Fixes to moto's own models. Each function below is installed on moto's class
# at the end of this module.


def method_create(
    cls: type,
    resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> Method:
    # moto's version drops AuthorizerId, so a Cognito-protected method came out
    # unprotected. Same as moto's otherwise, and an Integration is optional.
    props = cloudformation_json["Properties"]
    backend = api_backend(account_id, region_name)
    method = backend.put_method(
        function_id=props["RestApiId"],
        resource_id=props["ResourceId"],
        method_type=props["HttpMethod"],
        authorization_type=props.get("AuthorizationType", "NONE"),
        api_key_required=props.get("ApiKeyRequired"),
        authorizer_id=props.get("AuthorizerId"),
        authorization_scopes=props.get("AuthorizationScopes"),
    )
    integration = props.get("Integration")
    if integration:
        backend.put_integration(
            function_id=props["RestApiId"],
            resource_id=props["ResourceId"],
            method_type=props["HttpMethod"],
            integration_type=integration["Type"],
            uri=integration.get("Uri"),
            integration_method=integration.get("IntegrationHttpMethod"),
        )
    return method


def method_update(
    cls: type,
    original_resource: Method,
    new_resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
) -> Method:
    # In place or replaced (new RestApiId/ResourceId/HttpMethod), the result in
    # moto is the same: put the method as the template now says, then remove
    # the old one, which is a no-op when the new one took its place.
    new = cls.create_from_cloudformation_json(  # type: ignore[attr-defined]
        new_resource_name, cloudformation_json, account_id, region_name
    )
    original_resource.delete(account_id, region_name)  # type: ignore[attr-defined]
    return new


def method_delete(self: Method, account_id: str, region_name: str) -> None:
    # moto's Method does not know its API or resource: find the one holding it.
    for api in api_backend(account_id, region_name).apis.values():
        for resource in api.resources.values():
            if resource.resource_methods.get(self.http_method) is self:
                resource.delete_method(self.http_method)


def resource_update(
    cls: type,
    original_resource: Resource,
    new_resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
) -> Resource:
    # All of a Resource's properties are create-only: a real change replaces it.
    # (CloudFormation would then also update the methods that Ref it; moto only
    # updates resources whose template text changed, so they are not.)
    props = cloudformation_json["Properties"]
    same = (
        props["RestApiId"] == original_resource.api_id
        and props["ParentId"] == original_resource.parent_id
        and props["PathPart"] == original_resource.path_part
    )
    if same:
        return original_resource
    new = cls.create_from_cloudformation_json(  # type: ignore[attr-defined]
        new_resource_name, cloudformation_json, account_id, region_name
    )
    original_resource.delete(account_id, region_name)  # type: ignore[attr-defined]
    return new


def resource_delete(self: Resource, account_id: str, region_name: str) -> None:
    api = api_backend(account_id, region_name).apis.get(self.api_id)
    if api is not None:
        api.resources.pop(self.id, None)


def deployment_physical_resource_id(self: Deployment) -> str:
    # Ref to a Deployment is its id on AWS; without this moto hands out the
    # Python object, which then ends up as a stage's deploymentId.
    return self.id


def deployment_update(
    cls: type,
    original_resource: Deployment,
    new_resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
) -> Deployment:
    props = cloudformation_json["Properties"]
    api = api_backend(account_id, region_name).apis.get(props["RestApiId"])
    if api is not None and api.deployments.get(original_resource.id) is original_resource:
        # Same API (RestApiId is create-only): the description changes in place.
        original_resource.description = props.get("Description", "")
        return original_resource
    new = cls.create_from_cloudformation_json(  # type: ignore[attr-defined]
        new_resource_name, cloudformation_json, account_id, region_name
    )
    original_resource.delete(account_id, region_name)  # type: ignore[attr-defined]
    return new


def deployment_delete(self: Deployment, account_id: str, region_name: str) -> None:
    # AWS refuses to delete a deployment a stage still points to, and
    # CloudFormation deletes the old deployment only after the stage moved on.
    # moto removes resources before it updates the others, so the stage still
    # points here at this moment: delete regardless. moto's Deployment does not
    # know its API: find the one holding it.
    for api in api_backend(account_id, region_name).apis.values():
        if api.deployments.get(self.id) is self:
            del api.deployments[self.id]


def rest_api_update(
    cls: type,
    original_resource: RestAPI,
    new_resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
) -> RestAPI:
    # No RestApi property is create-only: the API is updated in place.
    props = cloudformation_json["Properties"]
    original_resource.name = props.get("Name", original_resource.name)
    original_resource.description = props.get("Description", "")
    return original_resource


def rest_api_delete(self: RestAPI, account_id: str, region_name: str) -> None:
    # Its resources, methods, deployments, stages and authorizers go with it.
    api_backend(account_id, region_name).apis.pop(self.id, None)


Method.create_from_cloudformation_json = classmethod(method_create)  # type: ignore[method-assign,assignment]
Method.update_from_cloudformation_json = classmethod(method_update)  # type: ignore[method-assign,assignment]
Method.delete = method_delete  # type: ignore[attr-defined]
Resource.update_from_cloudformation_json = classmethod(resource_update)  # type: ignore[method-assign,assignment]
Resource.delete = resource_delete  # type: ignore[attr-defined]
Deployment.physical_resource_id = property(deployment_physical_resource_id)  # type: ignore[attr-defined]
Deployment.update_from_cloudformation_json = classmethod(deployment_update)  # type: ignore[method-assign,assignment]
Deployment.delete = deployment_delete  # type: ignore[attr-defined]
RestAPI.update_from_cloudformation_json = classmethod(rest_api_update)  # type: ignore[method-assign,assignment]
RestAPI.delete = rest_api_delete  # type: ignore[attr-defined]


class ApiGatewayAccountCfn(CloudFormationModel):
    """AWS::ApiGateway::Account: API Gateway's settings for the account and region.

    Only CloudWatchRoleArn exists; it goes through moto's UpdateAccount, so
    GetAccount shows it. Like AWS, deleting the resource leaves the setting as
    it is (it belongs to the account, not to the stack).
    """

    def __init__(self, physical_id: str, properties: dict[str, Any]):
        self.physical_id = physical_id
        self.properties = properties

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApiGateway::Account"

    @property
    def physical_resource_id(self) -> str:
        return self.physical_id

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return False

    @staticmethod
    def apply(properties: dict[str, Any], account_id: str, region_name: str) -> None:
        role = properties.get("CloudWatchRoleArn")
        if role:
            api_backend(account_id, region_name).update_account(
                [{"op": "replace", "path": "/cloudwatchRoleArn", "value": role}]
            )

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> "ApiGatewayAccountCfn":
        props = cloudformation_json.get("Properties", {})
        cls.apply(props, account_id, region_name)
        return cls(f"{resource_name}-{account_id}", props)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: "ApiGatewayAccountCfn",
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> "ApiGatewayAccountCfn":
        props = cloudformation_json.get("Properties", {})
        cls.apply(props, account_id, region_name)
        original_resource.properties = props
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        pass
