"""The first slice: who am I, and which workspaces can I switch to."""

from __future__ import annotations

from tests.client import GraphQLClient

VIEWER = "{ viewer { id email name workspaces { id slug name } } }"


async def test_viewer_with_one_workspace(client: GraphQLClient) -> None:
    body = await client.query(VIEWER, as_="ada@acme.test")
    assert body == {
        "data": {
            "viewer": {
                "id": body["data"]["viewer"]["id"],
                "email": "ada@acme.test",
                "name": "Ada Admin",
                "workspaces": [
                    {
                        "id": body["data"]["viewer"]["workspaces"][0]["id"],
                        "slug": "acme",
                        "name": "Acme Corp",
                    }
                ],
            }
        }
    }


async def test_viewer_in_two_workspaces_lists_both(client: GraphQLClient) -> None:
    body = await client.query(VIEWER, as_="cy@acme.test")
    assert [w["slug"] for w in body["data"]["viewer"]["workspaces"]] == ["acme", "globex"]


async def test_no_token_is_unauthenticated_without_data(client: GraphQLClient) -> None:
    response = await client.post(VIEWER)
    assert response.status_code == 200
    assert response.json() == {
        "errors": [
            {
                "message": "Authentication required: send Authorization: Bearer <token>.",
                "extensions": {"code": "UNAUTHENTICATED"},
            }
        ]
    }


async def test_bad_token_is_unauthenticated(client: GraphQLClient) -> None:
    body = (await client.post(VIEWER, token="not-a-jwt")).json()
    assert body == {
        "errors": [
            {
                "message": "Invalid token: the token is not valid.",
                "extensions": {"code": "UNAUTHENTICATED"},
            }
        ]
    }
