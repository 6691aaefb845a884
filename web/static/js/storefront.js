// A seller's storefront: Follow and Remind me toggles, show times in the viewer's time zone.
import { wireAudience } from "./audience.js";
import { localizeTimes } from "./localtime.js";

wireAudience();
localizeTimes();
document.body.dataset.ready = "1";
