"""Kafka runtime on aiokafka: topics, producer, batch consumer, outbox relay, dead letters."""
