import { describe, expect, it } from "vitest";
import { ConnectedUsers, type UserConnection } from "../src/connected-users.ts";

const alice = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b01";
const bob = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b02";
const carol = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b03";

function connection(userId: string, sessionId?: string): UserConnection {
  return { userId, sessionId, close() {} };
}

describe("connected users", () => {
  it("finds connections by user and by session, and forgets them when they close", () => {
    const users = new ConnectedUsers();
    const phone = connection(alice, "s-phone");
    const laptop = connection(alice, "s-laptop");
    const other = connection(bob, "s-bob");
    for (const c of [phone, laptop, other]) users.attach(c);

    expect(users.ofUser(alice.toUpperCase())).toEqual([phone, laptop]);
    expect(users.ofSession("S-PHONE")).toEqual([phone]);
    expect(users.ofSession("s-unknown")).toEqual([]);

    users.detach(phone);
    expect(users.ofUser(alice)).toEqual([laptop]);
    expect(users.ofSession("s-phone")).toEqual([]);
    users.detach(laptop);
    users.detach(other);
    expect(users.size).toBe(0);
  });

  it("hides a blocked pair from each other, on every connection of each, until unblocked", () => {
    const users = new ConnectedUsers();
    const alicePhone = users.attach(connection(alice));
    const aliceLaptop = users.attach(connection(alice));
    const ofBob = users.attach(connection(bob));
    expect(alicePhone).toBe(aliceLaptop);

    users.applyBlock(alice, bob, true, 1);
    expect(alicePhone.hides(bob)).toBe(true);
    expect(ofBob.hides(alice)).toBe(true);
    expect(alicePhone.hides(carol)).toBe(false);

    users.applyBlock(alice, bob, false, 2);
    expect(alicePhone.hides(bob)).toBe(false);
    expect(ofBob.hides(alice)).toBe(false);
  });

  it("keeps a block the other user also made when one of them lifts theirs", () => {
    const users = new ConnectedUsers();
    const ofAlice = users.attach(connection(alice));
    const ofBob = users.attach(connection(bob));
    users.applyBlock(alice, bob, true, 1);
    users.applyBlock(bob, alice, true, 2);
    users.applyBlock(alice, bob, false, 3);
    expect(ofAlice.hides(bob)).toBe(true);
    expect(ofBob.hides(alice)).toBe(true);
    users.applyBlock(bob, alice, false, 4);
    expect(ofAlice.hides(bob)).toBe(false);
  });

  it("ignores a block or unblock older than the one applied (they arrive on two subscriptions)", () => {
    const users = new ConnectedUsers();
    const ofAlice = users.attach(connection(alice));
    // Blocked at 5, unblocked at 6, blocked again at 7: delivered 7, 6, 5.
    users.applyBlock(alice, bob, true, 7);
    users.applyBlock(alice, bob, false, 6);
    users.applyBlock(alice, bob, true, 5);
    expect(ofAlice.hides(bob)).toBe(true);
    // Unblocked at 9 seen before the block at 8.
    users.applyBlock(alice, bob, false, 9);
    users.applyBlock(alice, bob, true, 8);
    expect(ofAlice.hides(bob)).toBe(false);
  });

  it("keeps no block state for users with no connection here", () => {
    const users = new ConnectedUsers();
    users.applyBlock(alice, bob, true, 1);
    const ofAlice = users.attach(connection(alice));
    expect(ofAlice.hides(bob)).toBe(false);
    users.applyBlock(alice, bob, true, 2);
    expect(ofAlice.hides(bob)).toBe(true);
  });
});
