/**
 * The chat in a browser, served by the chat server at `/`. It speaks the same JSON protocol as the
 * terminal client, over the same endpoint, through the same ChatSession (client/session/session.ts), so it
 * reconnects and resumes the same way. Everything people wrote goes on the page as text
 * (textContent), never as HTML; the page's Content-Security-Policy forbids inline script besides.
 *
 * This file puts the page's parts together, in the order a visit needs them.
 */
import { AccountPanel } from "./account";
import { Attention } from "./attention";
import { listenToTyping } from "./composer";
import { Connection } from "./connection";
import { listenToModeration } from "./moderation";
import { NameForm } from "./name-form";
import { HistoryPaging } from "./paging";
import { PeoplePanel } from "./people";
import { PrivateConversations } from "./private";
import { EventView, saidLine } from "./render";
import { PageState } from "./state";

const chat = document.getElementById("chat") as HTMLDivElement;
const messageInput = document.getElementById("message") as HTMLTextAreaElement;

// 1. What the page knows of the chat: one object, given to each part that reads or changes it.
const state = new PageState();

// 2. What shows the events: the people and rooms panel, paging back through the room's history,
//    what calls the reader back (unread count, mentions, notifications), the private
//    conversations, whose the name is (keep it, log out, log in), and the view that takes each event to
//    its place on the page.
const panel = new PeoplePanel(state);
const paging = new HistoryPaging(state, (message) => saidLine(state, message));
const attention = new Attention(state);
const privates = new PrivateConversations(state, attention, () => panel.openDrawer(false));
const account = new AccountPanel(state, (name) => nameForm.openLogin(name));
const view = new EventView(state, panel, paging, attention, privates, account);

// 3. The connection, which hands each event to the view and says in the top bar how it is going.
const connection = new Connection(state, (event) => view.show(event));

// 4. A name, or none: Enter in the name form joins (logged in, for a registered name, or at once
//    with the login this browser kept), and the chat shows once the server let us in. "Log in"
//    in the chat brings the form back over it.
const nameForm = new NameForm({
  join: (name, token, login) => connection.join(name, token, login),
  logIn: (name, password) => account.logIn(name, password),
  showChat: (shown) => {
    chat.hidden = !shown;
    if (shown) messageInput.focus();
  },
});

// 5. Typing: Enter sends, Shift+Enter starts a new line; slash commands as in the terminal. A
//    moderator's menus on people and messages send commands too.
listenToTyping(state, connection, panel, account);
listenToModeration(state);
