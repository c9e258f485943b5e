"""Outgoing webhooks: events (what a change sends), endpoint secrets, URL safety, the
signed sender and the delivery worker. The outbox rows are written by app/domain
(``record_change``); everything that talks to the network lives here."""
