"""OpenAPI fragments, one module per function: `infra/openapi_parts/<function_name>.py`.

Each module exposes two plain dicts (no imports from Lambda code):

- `PATHS`: OpenAPI 3.0 `paths` entries for exactly that function's routes in shared/routes.py
- `SCHEMAS`: `components/schemas` entries it references as `#/components/schemas/<Name>`,
  named with the dialect as prefix (`Thalamus...`, `EsActivation...`, `Spaaza...`)

`python -m infra.openapi --write` merges them into openapi.json; `--check` detects drift.
"""
