"""Case records: the person, arrests, detention, status history, family actions, source and
consent, testimonies, attachments and review — encrypted with the case's own data key."""
