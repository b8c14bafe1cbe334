"""approval_routing calls no services: it has only Choice, Pass, Succeed and Fail states."""
