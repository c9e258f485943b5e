"""The Mutation fields of members, teams and roles, one module each."""
