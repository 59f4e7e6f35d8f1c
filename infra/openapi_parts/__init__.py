"""OpenAPI fragments, one module per function: `infra/openapi_parts/<function_name>.py`.

Each module exposes (build time only: the Lambdas never import these, nor pydantic):

- `PATHS`: OpenAPI 3.0 `paths` entries for exactly that function's routes in infra/functions.py.
  Parameters are small dicts built from the dialect module's constants.
- `SCHEMAS`: the bodies it references as `#/components/schemas/<Name>`, named with the
  dialect as prefix (`Thalamus...`, `EsActivation...`, `Spaaza...`): a list of pydantic
  models (the models they reference come along; every limit is a constant imported from
  shared/dialects/<dialect>.py, never a repeated literal); absent when it adds none.
- Error responses from `error_responses`, whose examples are the dialect's own answers
  (`domain_error`, `unavailable`, its parser's errors), so each message is written once, in
  the dialect; success examples from `answered`, the handler's recorded answer to a stored
  event (events/<function>/manifest.json). infra/openapi_models.py has the helpers (`ref`,
  `pattern`, `OneOf`, `omittable`, `error_responses`, `answered`) and the conversion to
  OpenAPI 3.0.

`python -m infra.openapi --write` merges them into openapi.json; `--check` detects drift.
"""
