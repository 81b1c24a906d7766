/**
 * Error codes (from the relay or the daemon) turned into text for people, in one place.
 * Pure: no vscode import, so it is unit-tested under `node --test`.
 */
import * as lsp from './protocol';

export const VIEWER_CANNOT_COMMENT = 'Viewers can read and react but not comment on code. Ask the host for the editor role.';

/** Per code, then per editor-protocol method: what to tell the user. */
const BY_METHOD: Record<string, Record<string, string>> = {
  not_author: {
    [lsp.editChat.method]: 'You can only edit your own messages.',
    [lsp.deleteChat.method]: 'You can only delete your own messages; the host can delete any message.',
    [lsp.editComment.method]: 'You can only edit your own comments.',
    [lsp.deleteComment.method]: 'You can only delete your own comments; the host can delete any comment.',
  },
  forbidden: {
    [lsp.createThread.method]: VIEWER_CANNOT_COMMENT,
    [lsp.reply.method]: 'Viewers can read and react but not reply to comments. Ask the host for the editor role.',
    [lsp.editComment.method]: 'Viewers cannot edit comments. Ask the host for the editor role.',
    [lsp.resolveThread.method]: 'Viewers cannot resolve or reopen comment threads. Ask the host for the editor role.',
    [lsp.createInvite.method]: 'Only the host can invite people.',
    [lsp.revokeInvite.method]: 'Only the host can revoke invites.',
    [lsp.setRole.method]: 'Only the host can change roles.',
    [lsp.removeParticipant.method]: 'Only the host can remove participants.',
    [lsp.endSession.method]: 'Only the host can end the session.',
  },
  not_found: {
    [lsp.editChat.method]: 'That message was deleted, so it cannot be edited.',
    [lsp.deleteChat.method]: 'That message was already deleted.',
    [lsp.editComment.method]: 'That comment was deleted, so it cannot be edited.',
    [lsp.deleteComment.method]: 'That comment was already deleted.',
    [lsp.react.method]: 'That message or comment was deleted.',
    [lsp.reply.method]: 'That comment thread no longer exists.',
    [lsp.resolveThread.method]: 'That comment thread no longer exists.',
  },
};

const BY_CODE: Record<string, string> = {
  forbidden: 'Your role in this session does not allow that.',
  not_author: 'Only the author can do that.',
  not_found: 'That no longer exists.',
  session_ended: 'The session has ended; it can be read but not changed.',
  not_in_session: 'Join or start a session first.',
  not_signed_in: 'Sign in first.',
  offline: 'The relay cannot be reached right now. Try again when you are back online.',
  text_too_long: 'That text is too long.',
  rate_limited: 'Too many actions at once. Try again in a moment.',
  removed: 'You were removed from the session.',
  session_full: 'The session is full.',
  invite_invalid: 'That invite link is not valid.',
  invite_expired: 'That invite link has expired. Ask the host for a new one.',
  bad_credentials: 'Wrong username or password.',
  username_taken: 'That username is taken.',
  invalid_username: 'Use 2-32 letters, digits, ".", "_" or "-" for the username.',
  weak_password: 'That password is too weak.',
  relay_mismatch: 'That invite is for another relay than the one you are signed in to.',
  unauthorized: 'Your sign-in is no longer valid. Sign in again.',
  token_expired: 'Your sign-in has expired. Sign in again.',
};

/**
 * The message for people for an error `code`, optionally raised by `method`; `fallback`
 * (the technical message) is used only for codes this table does not know.
 */
export function humanMessage(code: string | undefined, method?: string | null, fallback?: string): string {
  if (code) {
    const specific = method ? BY_METHOD[code]?.[method] : undefined;
    if (specific) {
      return specific;
    }
    const general = BY_CODE[code];
    if (general) {
      return general;
    }
  }
  const text = (fallback ?? 'Something went wrong.').trim();
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : 'Something went wrong.';
}
