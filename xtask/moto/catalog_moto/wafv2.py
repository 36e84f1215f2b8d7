"""CloudFormation models for AWS::WAFv2::IPSet, WebACL and WebACLAssociation.

Test-harness extension of moto, not AWS behaviour. moto 5.2.5 emulates the
WAFv2 API but has no CloudFormation models for it, so a template using these
types fails. These models create, update and delete the resources through
moto's own WAFv2 backend, so that after a deploy the ordinary SDK calls
(GetIPSet, ListIPSets, GetWebACL, ListWebACLs, GetWebACLForResource) see them.

Which property changes replace a resource and which update it in place follows
the createOnlyProperties of each type's CloudFormation registry schema (the
same schemas cfn-lint ships): Name and Scope replace an IPSet or WebACL,
anything else is updated in place; any change replaces a WebACLAssociation.
"""

from typing import Any

from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
from moto.core.common_models import CloudFormationModel
from moto.wafv2.exceptions import WAFNonexistentItemException
from moto.wafv2.models import GLOBAL_REGION, WAFV2Backend, wafv2_backends


def waf_backend(account_id: str, region_name: str, scope: str) -> WAFV2Backend:
    # moto keeps CLOUDFRONT-scoped objects in a pseudo-region of their own
    # (see moto/wafv2/responses.py); REGIONAL ones in the stack's region.
    if scope == "CLOUDFRONT":
        return wafv2_backends[account_id][GLOBAL_REGION]
    return wafv2_backends[account_id][region_name]


def changed(old: dict[str, Any], new: dict[str, Any], names: list[str]) -> bool:
    return any(old.get(name) != new.get(name) for name in names)


def api_rules(value: Any) -> Any:
    """The template's Rules in the WAFv2 API's shape, which moto stores and returns.

    They differ in one spelling: the *ReferenceStatement (IP set, rule group,
    regex pattern set) ARN is "Arn" in a template and "ARN" in the API.
    """
    if isinstance(value, list):
        return [api_rules(item) for item in value]
    if isinstance(value, dict):
        return {("ARN" if key == "Arn" else key): api_rules(item) for key, item in value.items()}
    return value


def retag(backend: WAFV2Backend, arn: str, tags: list[dict[str, str]]) -> None:
    # CloudFormation makes the tags equal to the template's: drop, then add.
    backend.tagging_service.delete_all_tags_for_resource(arn)
    backend.tag_resource(arn, tags)


class WAFv2IPSetCfn(CloudFormationModel):
    """One AWS::WAFv2::IPSet; the IP set itself lives in moto's WAFv2 backend."""

    def __init__(self, properties: dict[str, Any], ip_set: Any):
        self.properties = properties
        self.ip_set = ip_set  # moto.wafv2.models.FakeIPSet

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::WAFv2::IPSet"

    @property
    def physical_resource_id(self) -> str:
        # AWS documents Ref as "Name|Id|Scope".
        return f"{self.ip_set.name}|{self.ip_set.ip_set_id}|{self.ip_set.scope}"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ["Arn", "Id"]

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name == "Arn":
            return self.ip_set.arn
        if attribute_name == "Id":
            return self.ip_set.ip_set_id
        raise UnformattedGetAttTemplateException()

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> "WAFv2IPSetCfn":
        props = cloudformation_json["Properties"]
        backend = waf_backend(account_id, region_name, props["Scope"])
        ip_set = backend.create_ip_set(
            name=resource_name,
            scope=props["Scope"],
            description=props.get("Description", ""),
            ip_address_version=props["IPAddressVersion"],
            addresses=props.get("Addresses", []),
            tags=props.get("Tags", []),
        )
        return cls(props, ip_set)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: "WAFv2IPSetCfn",
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> "WAFv2IPSetCfn":
        props = cloudformation_json["Properties"]
        if changed(original_resource.properties, props, ["Name", "Scope"]):
            # Replacement: CloudFormation creates the new set, then deletes the old one.
            new = cls.create_from_cloudformation_json(
                new_resource_name, cloudformation_json, account_id, region_name
            )
            original_resource.delete(account_id, region_name)
            return new

        ip_set = original_resource.ip_set
        ip_set.update(props.get("Description", ""), props.get("Addresses", []))
        # moto's UpdateIPSet cannot change the version; CloudFormation can (in place).
        ip_set.ip_address_version = props["IPAddressVersion"]
        backend = waf_backend(account_id, region_name, props["Scope"])
        retag(backend, ip_set.arn, props.get("Tags", []))
        original_resource.properties = props
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        backend = waf_backend(account_id, region_name, self.ip_set.scope)
        try:
            backend.delete_ip_set(
                self.ip_set.name, self.ip_set.scope, self.ip_set.ip_set_id, self.ip_set.lock_token
            )
        except WAFNonexistentItemException:
            pass  # already gone: deleting is done


class WAFv2WebACLCfn(CloudFormationModel):
    """One AWS::WAFv2::WebACL; the web ACL itself lives in moto's WAFv2 backend."""

    def __init__(self, properties: dict[str, Any], web_acl: Any):
        self.properties = properties
        self.web_acl = web_acl  # moto.wafv2.models.FakeWebACL

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::WAFv2::WebACL"

    @property
    def physical_resource_id(self) -> str:
        # AWS documents Ref as "Name|Id|Scope".
        return f"{self.web_acl.name}|{self.web_acl.id}|{self.properties['Scope']}"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ["Arn", "Id", "Capacity", "LabelNamespace"]

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name == "Arn":
            return self.web_acl.arn
        if attribute_name == "Id":
            return self.web_acl.id
        if attribute_name == "Capacity":
            return self.web_acl.capacity  # moto reports a fixed capacity
        if attribute_name == "LabelNamespace":
            return self.web_acl.label_namespace
        raise UnformattedGetAttTemplateException()

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> "WAFv2WebACLCfn":
        props = cloudformation_json["Properties"]
        backend = waf_backend(account_id, region_name, props["Scope"])
        web_acl = backend.create_web_acl(
            name=resource_name,
            visibility_config=props["VisibilityConfig"],
            default_action=props["DefaultAction"],
            scope=props["Scope"],
            description=props.get("Description", ""),
            tags=props.get("Tags", []),
            rules=api_rules(props.get("Rules", [])),
            association_config=props.get("AssociationConfig"),
            captcha_config=props.get("CaptchaConfig"),
            challenge_config=props.get("ChallengeConfig"),
            custom_response_bodies=props.get("CustomResponseBodies"),
            token_domains=props.get("TokenDomains"),
        )
        return cls(props, web_acl)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: "WAFv2WebACLCfn",
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> "WAFv2WebACLCfn":
        props = cloudformation_json["Properties"]
        if changed(original_resource.properties, props, ["Name", "Scope"]):
            # Replacement: create the new web ACL, then delete the old one.
            # (Keeping the same Name fails here as it does on AWS: names are unique.)
            new = cls.create_from_cloudformation_json(
                new_resource_name, cloudformation_json, account_id, region_name
            )
            original_resource.delete(account_id, region_name)
            return new

        web_acl = original_resource.web_acl
        backend = waf_backend(account_id, region_name, props["Scope"])
        backend.update_web_acl(
            name=web_acl.name,
            _id=web_acl.id,
            default_action=props["DefaultAction"],
            rules=api_rules(props.get("Rules", [])),
            description=props.get("Description", ""),
            visibility_config=props["VisibilityConfig"],
            lock_token=web_acl.lock_token,
            custom_response_bodies=props.get("CustomResponseBodies"),
            captcha_config=props.get("CaptchaConfig"),
            challenge_config=props.get("ChallengeConfig"),
            token_domains=props.get("TokenDomains"),
            association_config=props.get("AssociationConfig"),
        )
        if not props.get("Rules"):
            # moto's update ignores an empty rule list; the template means "no rules".
            web_acl.rules = []
        retag(backend, web_acl.arn, props.get("Tags", []))
        original_resource.properties = props
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        scope = self.properties["Scope"]
        backend = waf_backend(account_id, region_name, scope)
        try:
            backend.delete_web_acl(self.web_acl.name, scope, self.web_acl.id, self.web_acl.lock_token)
        except WAFNonexistentItemException:
            pass  # already gone: deleting is done


class WAFv2WebACLAssociationCfn(CloudFormationModel):
    """One AWS::WAFv2::WebACLAssociation, kept in moto's WAFv2 backend.

    Ref: AWS gives no documented Ref format for this type; its primary
    identifier is (ResourceArn, WebACLArn), so Ref is "ResourceArn|WebACLArn".
    It has no GetAtt attributes.
    """

    def __init__(self, resource_arn: str, web_acl_arn: str):
        self.resource_arn = resource_arn
        self.web_acl_arn = web_acl_arn

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""  # no name property

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::WAFv2::WebACLAssociation"

    @property
    def physical_resource_id(self) -> str:
        return f"{self.resource_arn}|{self.web_acl_arn}"

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
    ) -> "WAFv2WebACLAssociationCfn":
        props = cloudformation_json["Properties"]
        # Associations are for regional resources (API stages, load balancers...).
        backend = wafv2_backends[account_id][region_name]
        # For an API Gateway stage, moto also records the web ACL on the stage.
        backend.associate_web_acl(props["WebACLArn"], props["ResourceArn"])
        return cls(props["ResourceArn"], props["WebACLArn"])

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: "WAFv2WebACLAssociationCfn",
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> "WAFv2WebACLAssociationCfn":
        # Both properties are create-only, so any change is a replacement.
        # CloudFormation would associate first and disassociate the old one
        # later; here the old one goes first, because moto's disassociate works
        # by resource ARN and would also undo a new association of the same
        # resource. (On AWS, associating an associated resource just moves it.)
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name
        )

    def delete(self, account_id: str, region_name: str) -> None:
        wafv2_backends[account_id][region_name].disassociate_web_acl(self.resource_arn)
