"""Test-harness extensions of moto's server so its CloudFormation can deploy our templates.

This is NOT AWS behaviour: it fills gaps in moto 5.2.5 so that our real
CloudFormation templates (deploy/templates/*.json) deploy, update and delete
on a local moto server, and the resulting resources are visible through the
ordinary SDK calls of moto's own backends.

- wafv2: resource models for AWS::WAFv2::IPSet, WebACL and WebACLAssociation.
- apigateway: resource models for AWS::ApiGateway::Authorizer, Stage and
  Account, and
  fixes to moto's own Method, Resource, Deployment and RestApi models.
- changeset: executing a change set honours DependsOn and refreshes the stack,
  and a resource removed by one update is created again when a later one adds it.
- s3: GetBucketVersioning answers with AWS's XML root, which the Rust SDK needs.
- cloudwatch: a resource model for AWS::CloudWatch::Alarm (prod's alarms).

Importing this package installs everything; it must happen before the server
parses its first template (see __main__.py).
"""

from moto.cloudformation import parsing
from moto.core import config

from . import apigateway, changeset, cloudwatch, s3, wafv2  # noqa: F401  (imported for their effects)

# No Docker: moto's Lambda then answers Invoke by echoing the payload instead of
# running the function in a container (the same as posting
# {"lambda": {"use_docker": false}} to /moto-api/config).
config.default_user_config["lambda"]["use_docker"] = False

# moto builds its type -> model map from CloudFormationModel.__subclasses__()
# once and caches it. Nothing has parsed a template yet at this point, but
# clearing the caches makes sure the models defined above are in the map.
parsing.get_model_list.cache_clear()
parsing.get_model_map.cache_clear()
parsing.get_name_type_map.cache_clear()
