import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { isConfiguredRelay, relayList, severalRelays } from '../../src/relays';

describe('relayList', () => {
  it('uses ensemble.relayUrls when it is not empty, else ensemble.relayUrl', () => {
    assert.deepEqual(relayList('ws://one:1/', []), ['ws://one:1/']);
    assert.deepEqual(relayList('ws://one:1', ['wss://a.example/', 'ws://b:2']), ['wss://a.example', 'ws://b:2']);
  });

  it('drops entries that are no ws:// or wss:// URL, and repeats', () => {
    assert.deepEqual(severalRelays(['http://x', 'ws://a:1', ' ws://a:1/ ', 7, '', 'ws://b:2/p', 'ws://c?x=1']), [
      'ws://a:1',
      'ws://b:2/p',
    ]);
    assert.deepEqual(relayList('ws://one:1', ['http://x']), ['ws://one:1']);
  });
});

describe('isConfiguredRelay', () => {
  it('matches any configured relay, trailing slashes aside', () => {
    const relays = ['wss://a.example', 'wss://b.example'];
    assert.equal(isConfiguredRelay('wss://b.example/', relays), true);
    assert.equal(isConfiguredRelay('wss://c.example', relays), false);
  });
});
