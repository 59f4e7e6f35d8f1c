"""In-memory fakes of the service's ports: business rules run on them in seconds, without a database."""
