#!/usr/bin/env bash
# Lint the GitHub Action: actionlint (built from the Go module proxy by tools/build.sh) checks
# the example workflow and, through its `uses: ./`, action.yml's inputs; shellcheck (when
# installed) checks the action's own `run:` scripts, which actionlint does not read.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ACTIONLINT=$(bash tools/build.sh actionlint)
"$ACTIONLINT" -no-color .github/workflows/*.yml
PYTHON=${PYTHON:-.venv/bin/python}
"$PYTHON" - <<'PY'
import shutil, subprocess, sys, tempfile, yaml
action = yaml.safe_load(open("action.yml"))
assert action["runs"]["using"] == "composite", "action.yml: a composite action"
declared = set(action["inputs"])
text = open("action.yml").read()
import re
used = set(re.findall(r"inputs\.([A-Za-z0-9_-]+)", text))
unknown = used - declared
if unknown:
    sys.exit(f"action.yml: inputs used but not declared: {sorted(unknown)}")
shellcheck = shutil.which("shellcheck")
if shellcheck is None:
    print("lint-action: shellcheck not installed; the action's run scripts were not checked")
    sys.exit(0)
for step in action["runs"]["steps"]:
    if "run" not in step:
        continue
    with tempfile.NamedTemporaryFile("w", suffix=".sh") as script:
        script.write("#!/usr/bin/env bash\n" + step["run"])
        script.flush()
        done = subprocess.run([shellcheck, "-s", "bash", script.name])
        if done.returncode:
            sys.exit(f"action.yml: step {step.get('name', step.get('id'))!r}: shellcheck failed")
PY
echo "lint-action: action.yml and .github/workflows ok"
