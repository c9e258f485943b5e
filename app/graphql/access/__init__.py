"""Who is in a workspace: Member, Team and Role (one area: their types name each other)."""
