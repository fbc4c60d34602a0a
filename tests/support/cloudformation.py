"""The template as CloudFormation would get it, offline: SAM's own translator expands it (with a
managed-policy map that knows no policy, which this template uses none of), and a small evaluator
resolves what differs per stage: parameters, conditions, `Fn::If` and `Fn::FindInMap`."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from functools import cache
from typing import Any

import boto3
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

from local_runtime import template

REGION = "ap-northeast-2"
NO_VALUE = object()  # AWS::NoValue: the property is left out


def _with_remote_code(doc: dict[str, Any]) -> dict[str, Any]:
    """The template with its local code paths as S3 locations, as `sam deploy` uploads them."""
    doc = copy.deepcopy(doc)
    for resource in doc["Resources"].values():
        props = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str):
                props[key] = f"s3://bucket/{props[key].strip('/')}"
    return doc


@cache
def _expanded(stage: str) -> dict[str, Any]:
    translator = Translator({}, Parser(), boto_session=boto3.session.Session(region_name=REGION))
    parameters = {"Stage": stage, "AWS::Region": REGION, "AWS::AccountId": "123456789012"}
    return translator.translate(_with_remote_code(template.load()), parameter_values=parameters)


def expanded(stage: str) -> dict[str, Any]:
    """The CloudFormation template SAM makes of template.yaml for a stage (a fresh copy)."""
    return copy.deepcopy(_expanded(stage))


class Stack:
    """The expanded template with a stage's parameter values, its intrinsics resolved where the
    stage decides them."""

    def __init__(self, stage: str, **parameters: str) -> None:
        self.doc = expanded(stage)
        declared = self.doc.get("Parameters", {})
        self.parameters = {name: str(p.get("Default", "")) for name, p in declared.items()}
        self.parameters.update(Stage=stage, **parameters)
        unknown = set(self.parameters) - set(declared)
        assert not unknown, f"parameters the template does not declare: {unknown}"
        self.conditions = {name: bool(self.resolve(body)) for name, body in self.doc.get("Conditions", {}).items()}

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        """The resources the stack creates (those whose Condition holds)."""
        return {
            name: resource
            for name, resource in self.doc["Resources"].items()
            if "Condition" not in resource or self.conditions[resource["Condition"]]
        }

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {name: r for name, r in self.resources.items() if r["Type"] == kind}

    def properties(self, logical_id: str) -> dict[str, Any]:
        """A resource's properties, resolved."""
        resolved = self.resolve(self.doc["Resources"][logical_id].get("Properties", {}))
        assert isinstance(resolved, dict)
        return resolved

    def resolve(self, value: Any) -> Any:
        """`value` with parameters, conditions, Fn::If and Fn::FindInMap resolved; other
        intrinsics (Ref to a resource, Fn::GetAtt, Fn::Sub) are left as they are."""
        if isinstance(value, list):
            return [v for v in (self.resolve(item) for item in value) if v is not NO_VALUE]
        if not isinstance(value, Mapping):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref" and arg in self.parameters:
                return self.parameters[arg]
            if key == "Ref" and arg == "AWS::NoValue":
                return NO_VALUE
            if key == "Condition":
                return self.conditions[arg]
            if key == "Fn::Equals":
                left, right = (self.resolve(a) for a in arg)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(a) for a in arg)
            if key == "Fn::Or":
                return any(self.resolve(a) for a in arg)
            if key == "Fn::If":
                name, if_true, if_false = arg
                return self.resolve(if_true if self.conditions[name] else if_false)
            if key == "Fn::FindInMap":
                mapping, top, second = (self.resolve(a) for a in arg)
                return self.doc["Mappings"][mapping][top][second]
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}


def logical_id(reference: Any) -> str | None:
    """The logical id a `Ref` or `Fn::GetAtt` names."""
    return template.logical_id(reference)
