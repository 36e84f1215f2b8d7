"""Executing a change set honours DependsOn, and leaves the stack up to date.

Test-harness extension of moto, not AWS behaviour. Real CloudFormation orders
the work of a create or update by a dependency graph made of DependsOn, Ref,
Fn::GetAtt and Fn::Sub: a resource is created or updated only once everything
it depends on is done, and resources removed from the template are deleted
last, in reverse order, in the clean-up phase.

moto's create_stack follows DependsOn, but executing a change set (CREATE as
well as UPDATE) goes through ResourceMap.update, which creates the added
resources in template order; only Ref/GetAtt targets get created on the way,
when a property refers to them. So our API Gateway Deployment, which only
DependsOn the Methods, came before them, and moto refused it ("The REST API
doesn't contain any methods"). The patch below puts the added resources in
DependsOn order. moto still removes resources before it adds and updates the
others; that is left alone (the models in this package cope with it).

Also, after executing a change set, moto keeps the stack's parsed template,
outputs and parameters from before: a stack created by a change set showed no
Outputs at all, and after an update DescribeStacks still listed the old
template's parameters, and an identical second update was not recognised as
"no changes"; nor did the stack take the change set's tags, which AWS applies
to the stack (and propagates to its resources). The second patch brings the
stack up to date, as AWS does.

And an update that removes a resource deletes it but keeps moto's parsed copy
of it, so a later update that adds the same logical id again found it
"already there" and created nothing: switching fat -> lith -> single left the
stack without its MetaFunction, though the change set said Add. AWS creates
it anew. The third patch forgets what an update removed.
"""

from typing import Any

from moto.cloudformation.models import CloudFormationBackend
from moto.cloudformation.parsing import ResourceMap


def in_depends_on_order(names: list[str], resources: dict[str, Any]) -> list[str]:
    """The given logical ids, each after the ones among them it DependsOn."""
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        # "visiting" guards against a cycle, which AWS rejects anyway.
        if name in ordered or name in visiting:
            return
        visiting.add(name)
        depends_on = resources[name].get("DependsOn", [])
        if isinstance(depends_on, str):  # DependsOn may be one name or a list
            depends_on = [depends_on]
        for dependency in depends_on:
            if dependency in names:
                visit(dependency)
        ordered.append(name)

    for name in names:
        visit(name)
    return ordered


original_build_resource_diff = ResourceMap.build_resource_diff


def build_resource_diff_in_depends_on_order(
    self: ResourceMap, other_template: dict[str, Any], parameters: dict[str, Any] | None = None
) -> dict[str, Any]:
    # ResourceMap.update creates the "Add" resources in this list's order.
    # (The list also orders DescribeChangeSet's changes, which does no harm.)
    diff = original_build_resource_diff(self, other_template, parameters)
    diff["Add"] = in_depends_on_order(diff["Add"], other_template["Resources"])
    return diff


ResourceMap.build_resource_diff = build_resource_diff_in_depends_on_order  # type: ignore[method-assign]


original_execute_change_set = CloudFormationBackend.execute_change_set


def execute_change_set_and_refresh_stack(
    self: CloudFormationBackend, change_set_name: str, stack_name: str | None = None
) -> None:
    original_execute_change_set(self, change_set_name, stack_name)
    change_set = self.describe_change_set(change_set_name)
    stack = change_set.stack
    # moto already set stack.template (the text); the rest follows from it.
    stack.template_dict = change_set.template_dict
    stack.description = stack.template_dict.get("Description")
    stack.parameters = change_set.parameters
    # Parameters the new template no longer declares are no longer the stack's.
    declared = stack.template_dict.get("Parameters", {})
    for name in list(stack.resource_map.resolved_parameters):
        if name not in declared:
            del stack.resource_map.resolved_parameters[name]
    stack.output_map = stack._create_output_map()
    if change_set.tags:
        stack.tags = dict(change_set.tags)


CloudFormationBackend.execute_change_set = execute_change_set_and_refresh_stack  # type: ignore[method-assign]


original_update = ResourceMap.update


def update_forgetting_removed_resources(
    self: ResourceMap, template: dict[str, Any], parameters: dict[str, Any] | None = None
) -> None:
    before = set(self._resource_json_map)
    original_update(self, template, parameters)
    for removed in before - set(template["Resources"]):
        self._parsed_resources.pop(removed, None)


ResourceMap.update = update_forgetting_removed_resources  # type: ignore[method-assign]
