"""vzctl's exit codes for image and snapshot operations (vzerror.h's VZCTL_E_*; the
contract's table A.6, 150-167).  Kept beside the storage code that raises them."""

from __future__ import annotations

__all__ = ["C"]


class C:
    IMAGE_NOT_FOUND = 150
    CREATE_IMAGE = 151
    MOUNT_IMAGE = 152
    UMOUNT_IMAGE = 153
    RESIZE_IMAGE = 154
    CONVERT_IMAGE = 155
    CREATE_SNAPSHOT = 156
    MERGE_SNAPSHOT = 157
    DELETE_SNAPSHOT = 158
    SWITCH_SNAPSHOT = 159
    MOUNT_SNAPSHOT = 160
    UMOUNT_SNAPSHOT = 161
    COMPACT_IMAGE = 166
    LIST_SNAPSHOT = 167
