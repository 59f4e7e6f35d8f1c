"""The local stack: moto's DynamoDB + Secrets Manager, the provider simulator, and an HTTP
server that turns requests into API Gateway REST proxy events for the real handlers."""
