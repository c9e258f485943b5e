"""The viewer's own account: deleting it, signing out everywhere."""
