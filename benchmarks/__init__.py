"""`make bench`: the authorizer's speed and AWS cost, measured on this machine."""
