"""One package per Lambda function; each holds a thin handler (parse -> logic -> data access).

Lambda imports `functions.<name>.handler`, so this runs first in every container: the cyclic
garbage collector stays off while the modules and the DynamoDB client are built (init makes
hundreds of thousands of long-lived objects and no garbage worth a collection), and
shared/runtime.py freezes what init made and turns it back on once the client exists
(measured by `make bench`'s cold-start rows). Only in Lambda: elsewhere (tests, the local
stack) nothing changes.
"""

import gc
import os

if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") and gc.isenabled():
    gc.disable()
    os.environ["VOUCHER_GC_DEFERRED"] = "1"
