"""Reading `template.yaml`: the single source of the tables, functions and rules run locally."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from samcli.yamlhelper import yaml_parse

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"


@cache
def load(path: Path = TEMPLATE) -> dict[str, Any]:
    return dict(yaml_parse(path.read_text()))


def of_type(doc: Mapping[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """A template document's resources of one type, by logical id."""
    return {name: res for name, res in doc["Resources"].items() if res.get("Type") == kind}


def resources(kind: str, path: Path = TEMPLATE) -> dict[str, dict[str, Any]]:
    """The template's resources of one type, by logical id."""
    return of_type(load(path), kind)


def table_definitions(path: Path = TEMPLATE) -> dict[str, dict[str, Any]]:
    """CreateTable arguments for every AWS::DynamoDB::Table, named by logical id (as `sam local`
    resolves a `!Ref` to a table)."""
    definitions = {}
    for name, resource in resources("AWS::DynamoDB::Table", path).items():
        props = resource["Properties"]
        definition: dict[str, Any] = {
            "TableName": name,
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        if definition["BillingMode"] == "PROVISIONED":
            definition["ProvisionedThroughput"] = props["ProvisionedThroughput"]
        for index_kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if index_kind in props:
                definition[index_kind] = props[index_kind]
        if "StreamSpecification" in props:
            definition["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        definitions[name] = definition
    return definitions


def ttl_attributes(path: Path = TEMPLATE) -> dict[str, str]:
    """The time-to-live attribute of each table that declares one."""
    return {
        name: resource["Properties"]["TimeToLiveSpecification"]["AttributeName"]
        for name, resource in resources("AWS::DynamoDB::Table", path).items()
        if resource["Properties"].get("TimeToLiveSpecification", {}).get("Enabled")
    }
