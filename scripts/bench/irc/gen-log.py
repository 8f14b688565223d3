#!/usr/bin/python3
"""Write a realistic Twitch chat log of N lines (default 1,000,000) to stdout.

Mostly chat PRIVMSGs with full tags, as a busy channel sends them, with
subs, resubs, gifts, raids, cheers, PINGs and ROOMSTATEs mixed in. Seeded,
so every run benchmarks the same bytes."""
import random
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
rnd = random.Random(20261128)
users = [("pixelpanda", "PixelPanda", "77123456"), ("tea_kettle", "Tea_Kettle", "80011222"),
         ("moss_and_ink", "Moss_and_Ink", "66554433"), ("bitbard", "BitBard", "90909090"),
         ("lanternfish", "LanternFish", "31415926"), ("kazuki_plays", "\u304b\u305a\u304d", "55500011"),
         ("nightowl42", "NightOwl42", "42424242"), ("emberwisp", "EmberWisp", "34343434")]
words = "gg lol pog KEKW nice play chat hype LUL the stream is great today PogChamp W".split()
out = sys.stdout
ts = 1773511262411


def uid():
    return "%08x-%04x-4%03x-8%03x-%012x" % (rnd.getrandbits(32), rnd.getrandbits(16),
                                           rnd.getrandbits(12), rnd.getrandbits(12), rnd.getrandbits(48))


for i in range(n):
    ts += rnd.randint(1, 400)
    login, name, user_id = rnd.choice(users)
    r = rnd.random()
    if r < 0.90:
        text = " ".join(rnd.choice(words) for _ in range(rnd.randint(1, 12)))
        out.write(f"@badge-info=subscriber/{rnd.randint(1,40)};badges=subscriber/12,premium/1;client-nonce={uid().replace('-','')};"
                  f"color=#1E90FF;display-name={name};emotes=;first-msg=0;flags=;id={uid()};mod=0;returning-chatter=0;"
                  f"room-id=512345678;subscriber=1;tmi-sent-ts={ts};turbo=0;user-id={user_id};user-type= "
                  f":{login}!{login}@{login}.tmi.twitch.tv PRIVMSG #glowcaster :{text}\r\n")
    elif r < 0.93:
        bits = rnd.choice([1, 100, 500])
        out.write(f"@badge-info=;badges=bits/1000;bits={bits};color=#8A2BE2;display-name={name};emotes=;id={uid()};mod=0;"
                  f"room-id=512345678;subscriber=0;tmi-sent-ts={ts};user-id={user_id};user-type= "
                  f":{login}!{login}@{login}.tmi.twitch.tv PRIVMSG #glowcaster :Cheer{bits} keep going\r\n")
    elif r < 0.96:
        out.write(f"@badge-info=subscriber/24;badges=subscriber/24;color=;display-name={name};emotes=30259:0-6;flags=;"
                  f"id={uid()};login={login};mod=0;msg-id=resub;msg-param-cumulative-months=24;msg-param-months=0;"
                  f"msg-param-should-share-streak=1;msg-param-streak-months=3;msg-param-sub-plan-name=Glow\\sCrew\\:\\sTier\\s1;"
                  f"msg-param-sub-plan=1000;room-id=512345678;subscriber=1;system-msg={name}\\ssubscribed\\sat\\sTier\\s1.;"
                  f"tmi-sent-ts={ts};user-id={user_id};user-type= :tmi.twitch.tv USERNOTICE #glowcaster :HeyGuy two years\r\n")
    elif r < 0.97:
        out.write(f"@badge-info=;badges=partner/1;color=#1E90FF;display-name={name};emotes=;flags=;id={uid()};login={login};"
                  f"mod=0;msg-id=raid;msg-param-displayName={name};msg-param-login={login};msg-param-viewerCount={rnd.randint(1,900)};"
                  f"room-id=512345678;subscriber=0;system-msg=raiders\\shave\\sjoined!;tmi-sent-ts={ts};user-id={user_id};"
                  f"user-type= :tmi.twitch.tv USERNOTICE #glowcaster\r\n")
    elif r < 0.98:
        out.write(f"@badge-info=;badges=sub-gifter/5;color=#8A2BE2;display-name={name};emotes=;flags=;id={uid()};login={login};"
                  f"mod=0;msg-id=subgift;msg-param-gift-months=1;msg-param-months=1;msg-param-origin-id=7a\\s3c;"
                  f"msg-param-recipient-display-name=Tea_Kettle;msg-param-recipient-id=80011222;"
                  f"msg-param-recipient-user-name=tea_kettle;msg-param-sender-count=0;msg-param-sub-plan=1000;"
                  f"room-id=512345678;subscriber=0;system-msg=gifted\\sa\\ssub!;tmi-sent-ts={ts};user-id={user_id};"
                  f"user-type= :tmi.twitch.tv USERNOTICE #glowcaster\r\n")
    elif r < 0.99:
        out.write("PING :tmi.twitch.tv\r\n")
    else:
        out.write("@emote-only=0;followers-only=-1;r9k=0;room-id=512345678;slow=0;subs-only=0 "
                  ":tmi.twitch.tv ROOMSTATE #glowcaster\r\n")
