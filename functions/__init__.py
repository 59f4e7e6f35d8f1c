"""One package per Lambda function; each holds a thin handler (parse -> logic -> data access)."""
