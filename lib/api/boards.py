"""Boards over HTTP: list and create, read with its summary, change, delete, its images (a
page, add, remove) and its members.

The rules are ``lib.boards``'s, the Boards page's: a board you cannot view is 404 as if
it did not exist; one you may view but not change this way is 403 with a sentence; a refused
name or member is 422. A board's images, count, cost and zip (``GET /boards/{id}/zip``, the
Gallery's zip with its ``manifest.csv``) hold only images you can see anyway (a board never
grants sight of an image). Writes need a full-scope token of a role that may generate
(analysts and read-only tokens only read).
"""

from __future__ import annotations

from starlette.responses import Response

from lib.api import cursors
from lib.api.board_schemas import (
    BoardDetailOut,
    BoardImagesIn,
    BoardImagesQuery,
    BoardIn,
    BoardList,
    BoardOut,
    BoardPatch,
    BoardQuery,
    BoardZipQuery,
    MembersIn,
    MembersOut,
)
from lib.api.images import card_out
from lib.api.jobs import MAKERS
from lib.api.ops import Call, Op
from lib.api.schemas import Done, ImageList
from lib.boards import store
from lib.boards.store import Board


def _out(board: Board) -> BoardOut:
    return BoardOut.model_validate(board, from_attributes=True)


def _detail(call: Call, board_id: str) -> BoardDetailOut:
    db, viewer = call.svc.db, call.who.viewer
    board = store.get_board(db, viewer, board_id)
    s = store.summary(db, viewer, board_id)
    return BoardDetailOut.model_validate({
        **_out(board).model_dump(), "images": s.images, "cost_usd": s.cost_usd,
        "first_image_at": s.first, "last_image_at": s.last,
        "members": store.members(db, viewer, board_id)})


def list_boards(call: Call) -> BoardList:
    """Boards you may view: yours, the team's, and those naming you."""
    q: BoardQuery = call.query
    found = store.list_boards(call.svc.db, call.who.viewer, archived=q.archived)
    return BoardList(boards=[_out(b) for b in found])


def create(call: Call) -> BoardDetailOut:
    """A new board, yours."""
    body: BoardIn = call.body
    board = store.create(call.svc.db, call.who.viewer, body.name, description=body.description,
                         visibility=body.visibility, now=call.svc.clock.now())
    return _detail(call, board.id)


def read(call: Call) -> BoardDetailOut:
    """One board with its count, total cost, date range and members."""
    return _detail(call, call.path["board_id"])


def patch(call: Call) -> BoardDetailOut:
    """Rename, describe, change visibility, archive or unarchive (owner or admin)."""
    body: BoardPatch = call.body
    store.update(call.svc.db, call.who.viewer, call.path["board_id"], name=body.name,
                 description=body.description, visibility=body.visibility,
                 archived=body.archived, now=call.svc.clock.now())
    return _detail(call, call.path["board_id"])


def delete(call: Call) -> Done:
    """Delete a board (owner or admin); its images stay in the gallery."""
    store.delete(call.svc.db, call.who.viewer, call.path["board_id"])
    return Done(detail="Board deleted; its images are still in the gallery.")


def images(call: Call) -> ImageList:
    """A page of the board's images you can see, newest first."""
    q: BoardImagesQuery = call.query
    offset = cursors.decode_offset(q.cursor) if q.cursor else 0
    page = store.images(call.svc.db, call.who.viewer, call.path["board_id"],
                        page=offset // q.limit, per_page=q.limit)
    end = (page.page + 1) * q.limit
    more = offset // q.limit == page.page and end < page.total
    return ImageList(images=[card_out(c) for c in page.rows], total=page.total,
                     next_cursor=cursors.encode_offset(end) if more else None)


def add_images(call: Call) -> Done:
    """Put images you can see on the board (owner, admin or editor; all or nothing)."""
    body: BoardImagesIn = call.body
    n = store.add_images(call.svc.db, call.who.viewer, call.path["board_id"], body.image_ids,
                         call.svc.clock.now())
    return Done(detail=f"{n} image{'s' if n != 1 else ''} added to the board.")


def remove_images(call: Call) -> Done:
    """Take images off the board (owner, admin or editor); the images themselves stay."""
    body: BoardImagesIn = call.body
    n = store.remove_images(call.svc.db, call.who.viewer, call.path["board_id"],
                            body.image_ids, call.svc.clock.now())
    return Done(detail=f"{n} image{'s' if n != 1 else ''} taken off the board.")


def download(call: Call) -> Response:
    """The board's images you can see as a zip: originals and manifest.csv (at most 200)."""
    body = store.zip_board(call.svc.db, call.svc.storage, call.who.viewer,
                           call.path["board_id"])
    name = f"promptboard-board-{call.path['board_id'][:40]}.zip"
    return Response(body, media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


def members(call: Call) -> MembersOut:
    """Replace the board's named members (owner or admin); every name an account."""
    body: MembersIn = call.body
    done = store.set_members(call.svc.db, call.who.viewer, call.path["board_id"],
                             dict(body.members), call.svc.clock.now())
    return MembersOut.model_validate({"board_id": call.path["board_id"], "members": done})


def ops() -> list[Op]:
    """The board routes."""
    one, pics = "/boards/{board_id}", "/boards/{board_id}/images"
    return [
        Op("GET", "/boards", "listBoards", "Boards you may view", list_boards, out=BoardList,
           query=BoardQuery),
        Op("POST", "/boards", "createBoard", "Create a board", create, out=BoardDetailOut,
           body=BoardIn, status=201, roles=MAKERS, errors=(422,)),
        Op("GET", one, "getBoard", "A board with its count, cost and date range", read,
           out=BoardDetailOut, errors=(404,)),
        Op("PATCH", one, "updateBoard", "Rename, describe, set visibility, archive a board",
           patch, out=BoardDetailOut, body=BoardPatch, roles=MAKERS, errors=(404, 422)),
        Op("DELETE", one, "deleteBoard", "Delete a board (never its images)", delete, out=Done,
           roles=MAKERS, errors=(404,)),
        Op("GET", pics, "listBoardImages", "A page of a board's images", images,
           out=ImageList, query=BoardImagesQuery, errors=(404,)),
        Op("POST", pics, "addBoardImages", "Put images on a board", add_images, out=Done,
           body=BoardImagesIn, roles=MAKERS, errors=(404, 422)),
        Op("DELETE", pics, "removeBoardImages", "Take images off a board", remove_images,
           out=Done, body=BoardImagesIn, roles=MAKERS, errors=(404, 422)),
        Op("GET", "/boards/{board_id}/zip", "downloadBoard", "A board's images as a zip with "
           "a manifest", download, query=BoardZipQuery, media=("application/zip",),
           errors=(404, 422)),
        Op("PUT", "/boards/{board_id}/members", "setBoardMembers", "Replace a board's named "
           "members", members, out=MembersOut, body=MembersIn, roles=MAKERS, errors=(404, 422)),
    ]
