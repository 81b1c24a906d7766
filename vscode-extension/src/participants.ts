import * as vscode from 'vscode';
import { colorId } from './colors';
import type { Ctx } from './ctx';
import { displayName } from './names';
import type { PeerView, Role, Status } from './protocol';

/** One row of the Participants view; commands get it as their argument. */
export class ParticipantNode {
  constructor(
    readonly userId: string,
    readonly name: string,
    readonly role: Role,
    readonly status: Status | 'offline',
    readonly isMe: boolean,
    readonly color: number,
    readonly peer: PeerView | undefined,
  ) {}

  /** "src/app.py:11" (1-based line), "~" when the position is approximate. */
  get location(): string | undefined {
    const p = this.peer;
    const sel = p?.selections?.[0];
    if (!p?.path || !sel) {
      return undefined;
    }
    return `${p.path}:${p.approximate ? '~' : ''}${sel.active.line + 1}`;
  }

  get description(): string {
    const parts: string[] = [this.role, this.status];
    if (this.isMe) {
      parts.push('you');
    } else if (this.location) {
      parts.push(this.location);
    }
    return parts.join(' · ');
  }
}

/** Resolves a command argument (row, user id, or nothing) to a user id. */
export function userIdOf(arg: unknown): string | undefined {
  if (typeof arg === 'string') {
    return arg;
  }
  if (arg instanceof ParticipantNode) {
    return arg.userId;
  }
  if (arg && typeof arg === 'object' && typeof (arg as { userId?: unknown }).userId === 'string') {
    return (arg as { userId: string }).userId;
  }
  return undefined;
}

/** Everyone in the session: members from the session view merged with live peer state. */
export function participantNodes(ctx: Ctx): ParticipantNode[] {
  const session = ctx.state.session;
  if (!session) {
    return [];
  }
  const me = session.you.user.id;
  const nodes = new Map<string, ParticipantNode>();
  const peers = new Map(ctx.state.peers.map((p) => [p.user.id, p]));
  nodes.set(me, new ParticipantNode(me, displayName(session.you.user), session.you.role, session.you.status ?? 'active', true, 0, undefined));
  for (const member of session.participants) {
    if (member.user.id === me) {
      continue;
    }
    const peer = peers.get(member.user.id);
    const online = peer ? peer.online : member.online;
    nodes.set(
      member.user.id,
      new ParticipantNode(
        member.user.id,
        displayName(peer?.user ?? member.user),
        peer?.role ?? member.role,
        online ? (peer?.status ?? member.status ?? 'active') : 'offline',
        false,
        peer?.color ?? 0,
        peer,
      ),
    );
  }
  for (const peer of peers.values()) {
    if (!nodes.has(peer.user.id)) {
      nodes.set(
        peer.user.id,
        new ParticipantNode(peer.user.id, displayName(peer.user), peer.role, peer.online ? peer.status : 'offline', false, peer.color, peer),
      );
    }
  }
  const rank = (n: ParticipantNode): number => (n.isMe ? 0 : n.role === 'host' ? 1 : n.status === 'offline' ? 3 : 2);
  return [...nodes.values()].sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
}

/** The Participants tree view (view id ensemble.participants). */
export class ParticipantsProvider implements vscode.TreeDataProvider<ParticipantNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<ParticipantNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly subscriptions: vscode.Disposable[] = [this.changed];
  readonly view: vscode.TreeView<ParticipantNode>;

  constructor(private readonly ctx: Ctx) {
    this.view = vscode.window.createTreeView('ensemble.participants', { treeDataProvider: this, showCollapseAll: false });
    this.subscriptions.push(
      this.view,
      ctx.onDidChangeState((what) => {
        if (what === 'session' || what === 'peers' || what === 'follow' || what === 'daemon') {
          this.refresh();
        }
      }),
    );
    this.refresh();
  }

  private refresh(): void {
    const session = this.ctx.state.session;
    this.view.description = session ? session.session.name : undefined;
    this.changed.fire(undefined);
  }

  getChildren(element?: ParticipantNode): ParticipantNode[] {
    return element ? [] : participantNodes(this.ctx);
  }

  getTreeItem(node: ParticipantNode): vscode.TreeItem {
    const item = new vscode.TreeItem(node.name, vscode.TreeItemCollapsibleState.None);
    item.id = node.userId;
    item.description = node.description;
    const following = this.ctx.state.following === node.userId;
    const icon = node.isMe ? 'account' : following ? 'eye' : node.status === 'offline' ? 'circle-outline' : 'circle-filled';
    item.iconPath = new vscode.ThemeIcon(icon, node.isMe ? undefined : new vscode.ThemeColor(colorId(node.color)));
    const flags = [node.isMe ? 'me' : 'peer'];
    if (node.peer?.uri && node.status !== 'offline') {
      flags.push('located');
    }
    if (!node.isMe && node.role !== 'host') {
      flags.push('manageable');
    }
    if (following) {
      flags.push('followed');
    }
    item.contextValue = ['participant', ...flags].join('.');
    const tip = new vscode.MarkdownString();
    tip.appendMarkdown(`**${node.name}** (${node.userId})\n\n`);
    tip.appendMarkdown(`Role: ${node.role} · Status: ${node.status}`);
    if (node.location) {
      tip.appendMarkdown(`\n\nAt: ${node.location}${node.peer?.approximate ? ' (approximate: the file differs here)' : ''}`);
    }
    item.tooltip = tip;
    if (!node.isMe && node.peer?.uri) {
      item.command = { command: 'ensemble.jumpTo', title: 'Jump to Participant', arguments: [node.userId] };
    }
    return item;
  }

  dispose(): void {
    for (const s of this.subscriptions) {
      s.dispose();
    }
  }
}

/** A quick pick of the peers (for commands run from the palette). */
export async function pickPeer(ctx: Ctx, title: string, filter: (n: ParticipantNode) => boolean = () => true): Promise<string | undefined> {
  const nodes = participantNodes(ctx).filter((n) => !n.isMe && filter(n));
  if (nodes.length === 0) {
    void vscode.window.showInformationMessage('Ensemble: nobody else is here yet.');
    return undefined;
  }
  const pick = await vscode.window.showQuickPick(
    nodes.map((n) => ({ label: n.name, description: n.description, userId: n.userId })),
    { title },
  );
  return pick?.userId;
}
