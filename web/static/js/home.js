// The home page: show times in the viewer's time zone.
import { localizeTimes } from "./localtime.js";

localizeTimes();
document.body.dataset.ready = "1";
